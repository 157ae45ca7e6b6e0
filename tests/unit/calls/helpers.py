"""Helpers for the call tests: the bundled file's text, edited one fault at a time."""
from __future__ import annotations

from shared.calls.loader import DEFAULT_CALL_FILE, load_call_text


def bundled_text() -> str:
    return DEFAULT_CALL_FILE.read_text(encoding="utf-8")


def edited(old: str, new: str, text: str | None = None) -> str:
    """The bundled text with ``old`` replaced once; fails loudly if ``old`` is absent,
    so a test cannot silently stop testing anything when the file changes."""
    text = bundled_text() if text is None else text
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def bundled_call():
    return load_call_text(bundled_text())
