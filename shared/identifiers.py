"""Organisation ids: the characters they may hold, and the one key they are compared by.

An organisation id (a PIC, a VAT or registry number, ``FR-LYON``) decides conflicts of
interest: an expert of the applicant's own organisation must never evaluate it. Comparing
the raw text lets look-alikes through (a zero-width joiner, a non-breaking hyphen,
fullwidth letters), so every comparison goes through :func:`organisation_key`, and the
APIs that take ids refuse anything outside :data:`ORGANISATION_ID_RULE` in the first place
(the key also covers ids stored before that rule existed).

Plain Python (no framework): domain code imports it.
"""
from __future__ import annotations

import re
import unicodedata

#: the documented character set of an organisation id, as the APIs state it
ORGANISATION_ID_RULE = ("must be 1 to 100 characters: ASCII letters and digits, and "
                        "'-', '.', '_', '/', ':' or single spaces between them, starting "
                        "with a letter or digit")
ORGANISATION_ID_MAX = 100
_ALLOWED = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/:-]| (?=[^ ]))*")

# invisible characters that are not format (Cf) characters: the combining grapheme joiner
# and the Hangul fillers render as nothing too
_INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"}
# dash-like characters outside the Pd category
_MINUS_SIGNS = {"\u2212", "\u02d7", "\u2796", "\ufe63", "\uff0d"}


def organisation_id_problem(value: object) -> str | None:
    """None when ``value`` is a well-formed organisation id, else the rule it breaks."""
    if not isinstance(value, str) or not 1 <= len(value) <= ORGANISATION_ID_MAX \
            or not _ALLOWED.fullmatch(value):
        return ORGANISATION_ID_RULE
    return None


def organisation_key(organisation_id: str) -> str:
    """What two ids are compared by: Unicode NFKC (fullwidth and other compatibility
    forms become their plain letters), format and zero-width characters removed, every
    dash made '-', whitespace collapsed, case folded. Over-matching only costs a
    reassignment; under-matching breaks the conflict rule."""
    text = unicodedata.normalize("NFKC", organisation_id)
    text = "".join("-" if _is_dash(ch) else ch for ch in text
                   if unicodedata.category(ch) != "Cf" and ch not in _INVISIBLE)
    text = " ".join(text.split())
    return unicodedata.normalize("NFKC", text.casefold())


def _is_dash(ch: str) -> bool:
    return ch in _MINUS_SIGNS or unicodedata.category(ch) == "Pd"
