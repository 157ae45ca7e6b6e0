"""People in headless Chromium (Debian's, driven by Playwright; never a downloaded
browser) for the pages' journey test: one browser, a context per person (own cookies,
own time zone), axe-core run in every page, a screenshot of every page kept as a test
artifact, and every console error (a CSP violation included) collected."""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from grantflow.browser import CHROMIUM, BrowserMissing, chromium_flags, require

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1
#: WCAG 2.1 A and AA: labels, names, contrast, keyboard-reachable structure, languages
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def artifacts_dir(journey: str) -> Path:
    """Where a journey's screenshots go (gitignored): its own directory under
    GRANTFLOW_SCREENSHOTS, else under var/test-artifacts in the repository. Its own: two
    journeys run at once under ``make test``, and each empties its directory first."""
    return Path(os.environ.get("GRANTFLOW_SCREENSHOTS")
                or ROOT / "var" / "test-artifacts") / journey


def _axe_source() -> str:
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, f"{AXE} is not axe-core 4.14.1"
    return source.decode("utf-8")


class Person:
    """One person's browser context and page."""

    def __init__(self, name: str, context, shots: "Shots"):
        self.name = name
        self.context = context
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.shots = shots
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text)
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def axe(self) -> list[dict]:
        """The WCAG 2.1 A/AA violations axe-core finds in the current page."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            # Runtime.evaluate of the vendored file: the page's CSP (no inline script)
            # stays in force for the page's own code
            self.page.evaluate(self.shots.axe_source)
        return self.page.evaluate(
            """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})
                 .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))""",
            AXE_TAGS)

    def check(self, label: str) -> None:
        """Screenshot the page, then require no accessibility violation and no console
        error (a blocked inline script or style would be one)."""
        self.shots.take(self.page, f"{self.name}-{label}")
        violations = self.axe()
        assert violations == [], f"{label}: accessibility violations {violations}"
        assert self.console_errors == [], f"{label}: console errors {self.console_errors}"


class Shots:
    def __init__(self, directory: Path, axe_source: str):
        self.directory = directory
        self.count = 0
        self.axe_source = axe_source

    def take(self, page, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def people(profile_dir: Path, journey: str):
    """``open(name, timezone_id)`` makes a Person; screenshots go to
    ``artifacts_dir(journey)``."""
    try:
        require()
        from playwright.sync_api import sync_playwright
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    directory = artifacts_dir(journey)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    shots = Shots(directory, _axe_source())
    flags = [f for f in chromium_flags(profile_dir)
             if f != "--headless" and not f.startswith("--user-data-dir")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=flags)
        contexts = []

        def open_person(name: str, timezone_id: str) -> Person:
            context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                          timezone_id=timezone_id, locale="en-GB")
            contexts.append(context)
            return Person(name, context, shots)
        try:
            yield open_person
        finally:
            for context in contexts:
                context.close()
            browser.close()
