"""Headless Chromium (Debian's, see grantflow.browser) driven by Playwright, for the
operations page test. A missing browser fails the test with the install command: it is
never skipped."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from grantflow.browser import CHROMIUM, BrowserMissing, chromium_flags, require


@contextmanager
def chromium_page(profile_dir: Path):
    """A page in a fresh headless Chromium with its own throwaway profile."""
    try:
        require()
        from playwright.sync_api import sync_playwright
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    except ImportError:
        pytest.fail("the browser test needs the playwright package: "
                    ".venv/bin/pip install playwright==1.65.2 (it drives Debian's chromium; "
                    "no browser download)", pytrace=False)
    # Playwright passes the profile itself and runs headless: keep the rest of our flags
    flags = [f for f in chromium_flags(profile_dir)
             if f != "--headless" and not f.startswith("--user-data-dir")]
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), headless=True, args=flags,
            viewport={"width": 1280, "height": 1600})
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            context.close()


def table(page, table_id: str) -> list[list[str]]:
    """The visible text of each body row's cells of the table ``table_id``."""
    return page.locator(f"#{table_id} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
