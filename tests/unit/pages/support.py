"""A real :class:`shared.pages.route.Page` for a werkzeug test request, to render the
pages' templates without a running service; and a check that every form control has a
label."""
from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from shared.clock import Clock
from shared.pages import i18n, rendering
from shared.pages.route import Page
from shared.pages.settings import PageSettings

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = PageSettings(secret="pages-unit-test-secret-of-32-bytes!",
                        urls={"submission": "http://127.0.0.1:8101",
                              "evaluation": "http://127.0.0.1:8102",
                              "grants": "http://127.0.0.1:8103"})


class FixedClock(Clock):
    def __init__(self, now: datetime = datetime(2019, 1, 20, 9, 0, tzinfo=timezone.utc)):
        self._now = now

    def now(self) -> datetime:
        return self._now


def page_for(path: str, audience, service: str, *, cookies: dict | None = None,
             method: str = "GET", data=None, headers=None) -> Page:
    builder = EnvironBuilder(path=path, method=method, data=data, headers=headers,
                             base_url=SETTINGS.urls[service])
    request = Request(builder.get_environ())
    for name, value in (cookies or {}).items():
        request.cookies = {**request.cookies, name: value}
    templates = (str(ROOT / "services" / service / "pages" / "templates"),)
    return Page(request, SETTINGS, audience, service, templates, FixedClock())


def install_language(directory: Path, monkeypatch, locale: str, messages: dict) -> None:
    """A tiny compiled catalogue of ``messages`` (msgid, or (singular, plural), to its
    translation) in ``directory``, which becomes the pages' locale folder for the test.
    The templates' environments are cached per language: clear them again after it."""
    catalog = Catalog(locale=locale)
    for english, translated in messages.items():
        catalog.add(english, translated)
    folder = directory / locale / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as mo:
        write_mo(mo, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", directory)
    rendering.environment.cache_clear()


class _Controls(HTMLParser):
    def __init__(self):
        super().__init__()
        self.controls, self.labels = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])
        if tag in ("input", "textarea", "select") and attrs.get("type") not in (
                "hidden", "submit", "button"):
            self.controls.append(attrs.get("id") or attrs.get("name"))


def unlabelled_controls(html: str) -> list[str]:
    parser = _Controls()
    parser.feed(html)
    return [c for c in parser.controls if c not in parser.labels]
