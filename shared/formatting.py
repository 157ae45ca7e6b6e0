"""Values shown to people: money, instants, days, numbers, rule values in words.

One module for every place that shows a value to a person (letters, PDF documents, web
pages), so an amount or a due date reads the same everywhere: money with its currency and
two decimals (``EUR 900,000.00``, never ``900000.000``), instants in the call's time zone
with the zone named (``31 January 2019, 17:00:00 CET (Europe/Brussels)``), never a raw ISO
timestamp or a Python repr. Pure standard library (English); done here rather than in
templates so contexts stay plain JSON-ready data.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping
from zoneinfo import ZoneInfo

# values on the wire: money travels as a decimal string, instants as ISO 8601 with offset
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def money(amount: Decimal | str | int, currency: str) -> str:
    """``EUR 1,234,567.89``"""
    return f"{currency} {Decimal(str(amount)):,.2f}"


def day(value: date) -> str:
    """``1 November 2019``"""
    return f"{value.day} {value:%B %Y}"


def local_time(value: datetime, tz_name: str) -> str:
    """``31 January 2019, 17:00:00 CET (Europe/Brussels)``: the instant in ``tz_name``
    with the zone's abbreviation (which tells summer from winter time) and its name."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got {value!r}")
    local = value.astimezone(ZoneInfo(tz_name))
    return f"{day(local)}, {local:%H:%M:%S %Z} ({tz_name})"


def utc_time(value: datetime) -> str:
    """``31 January 2019, 16:00:00 UTC``"""
    utc = value.astimezone(timezone.utc)
    return f"{day(utc)}, {utc:%H:%M:%S} UTC"


def instant(value: datetime, tz_name: str) -> dict[str, str]:
    """An instant shown twice: in the call's time zone (what the call document uses) and in
    UTC (what the systems record), e.g. ``{"local": "31 January 2019, 17:00:00 CET
    (Europe/Brussels)", "utc": "31 January 2019, 16:00:00 UTC", "iso": "..."}``."""
    local = local_time(value, tz_name)
    return {"local": local, "utc": utc_time(value),
            "iso": value.astimezone(timezone.utc).isoformat()}


def time_left(delta: timedelta) -> str:
    """``6 days and 23 hours``; whole hours, rounded down."""
    hours = max(int(delta.total_seconds() // 3600), 0)
    days, hours = divmod(hours, 24)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    if hours or not parts:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return " and ".join(parts)


def number(value: Decimal | int | float | str) -> str:
    """A score or count without trailing zeros: 25, 25.5, 82.25."""
    return f"{Decimal(str(value)).normalize():f}"


def plain_value(value: Any, tz_name: str = "UTC", currency: str = "EUR") -> str:
    """A rule value in words: lists joined, booleans as yes/no, amounts (decimal strings,
    as money travels) as money, ISO instants in ``tz_name``, an organisation as "name
    (id, country)", any other mapping as "name: value" pairs."""
    def say(v: Any) -> str:
        return plain_value(v, tz_name, currency)

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [say(v) for v in value]
        separator = "; " if any(isinstance(v, Mapping) for v in value) else ", "
        return separator.join(items) or "none"
    if isinstance(value, Mapping):
        return _mapping_in_words(value, say)
    if isinstance(value, datetime):
        return local_time(value, tz_name)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, str):
        return _text_in_words(value, tz_name, currency)
    return str(value)


def _text_in_words(value: str, tz_name: str, currency: str) -> str:
    text = value.strip()
    if _DECIMAL.match(text):
        try:
            return money(Decimal(text), currency)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            return text
    if _ISO_INSTANT.match(text):
        return local_time(datetime.fromisoformat(text.replace("Z", "+00:00")), tz_name)
    if _ISO_DAY.match(text):
        return day(date.fromisoformat(text))
    return text.replace("_", " ") if re.fullmatch(r"[a-z]+(_[a-z]+)+", text) else text


def _mapping_in_words(value: Mapping, say) -> str:
    if "legal_name" in value:  # an organisation of the consortium
        known = [str(value[k]) for k in ("organisation_id", "country") if value.get(k)]
        role = f", {say(value['role'])}" if value.get("role") else ""
        return f"{value['legal_name']} ({', '.join(known)}{role})" if known else \
            f"{value['legal_name']}{role}"
    return ", ".join(f"{str(k).replace('_', ' ')} {say(v)}" for k, v in value.items())


def percent(rate: Decimal | str) -> str:
    """``90 %`` for 0.9"""
    return f"{(Decimal(str(rate)) * 100).normalize():f} %"


def plain_values(values: Mapping[str, Any], tz_name: str = "UTC",
                 currency: str = "EUR") -> str:
    """``countries: DK; partners: 2; evaluated at: 31 January 2019, 17:00:00 CET
    (Europe/Brussels)`` (underscores in names read as spaces; a ``*rate`` or ``*share``
    is a percentage)."""
    def say(name: str, value: Any) -> str:
        if name.endswith(("rate", "share")) and isinstance(value, (str, Decimal)) \
                and _DECIMAL.match(str(value)):
            return percent(value)
        return plain_value(value, tz_name, currency)

    return "; ".join(f"{name.replace('_', ' ')}: {say(name, v)}" for name, v in values.items())
