"""The pages' message catalogue (Babel / gettext).

Every English text of the pages is a msgid: ``{% trans %}`` and ``_()`` in the
templates, :func:`N_` in Python. ``babel.cfg`` at the repository's root says where to
extract them; ``locale/messages.pot`` is the catalogue (a unit test keeps it current).
A language is added with ``pybabel init -i shared/pages/locale/messages.pot -d
shared/pages/locale -l fr`` and ``pybabel compile -d shared/pages/locale``: from then on a
browser asking for it (``Accept-Language``) gets it, and English otherwise.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:
    """Mark a Python string for extraction; it is translated where it is shown."""
    return message


def available_locales(directory: Path | None = None) -> tuple[str, ...]:
    """English, then every language with a compiled catalogue."""
    return _available(directory or LOCALE_DIR)


@lru_cache(maxsize=4)
def _available(directory: Path) -> tuple[str, ...]:
    compiled = sorted(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (DEFAULT_LOCALE, *[name for name in compiled if name != DEFAULT_LOCALE])


def negotiate(accept_languages, directory: Path | None = None) -> str:
    """The best of the available languages for werkzeug's ``request.accept_languages``."""
    best = accept_languages.best_match(available_locales(directory)) if accept_languages else None
    return best or DEFAULT_LOCALE


def translations(locale: str, directory: Path | None = None) -> NullTranslations:
    return _translations(locale, directory or LOCALE_DIR)


@lru_cache(maxsize=16)
def _translations(locale: str, directory: Path) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(directory), [locale], DOMAIN)
