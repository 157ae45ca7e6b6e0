"""Turning domain values into the text a letter shows: money, instants, scores, values.

Done here rather than in templates so contexts are plain JSON-ready data and every
template shows a value the same way.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo


def money(amount: Decimal, currency: str) -> str:
    """``EUR 1,234,567.89``"""
    return f"{currency} {Decimal(amount):,.2f}"


def day(value: date) -> str:
    """``1 November 2019``"""
    return f"{value.day} {value:%B %Y}"


def instant(value: datetime, tz_name: str) -> dict[str, str]:
    """An instant shown twice: in the call's time zone (what the call document uses) and in
    UTC (what the systems record), e.g. ``{"local": "31 January 2019, 17:00:00 CET
    (Europe/Brussels)", "utc": "31 January 2019, 16:00:00 UTC", "iso": "..."}``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got {value!r}")
    local = value.astimezone(ZoneInfo(tz_name))
    utc = value.astimezone(timezone.utc)
    return {"local": f"{day(local)}, {local:%H:%M:%S %Z} ({tz_name})",
            "utc": f"{day(utc)}, {utc:%H:%M:%S} UTC",
            "iso": utc.isoformat()}


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


def plain_value(value: Any) -> str:
    """A rule value in words: lists joined by commas, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(plain_value(v) for v in value) or "none"
    if isinstance(value, Decimal):
        return number(value)
    return str(value)


def plain_values(values: Mapping[str, Any]) -> str:
    """``countries: DK; partners: 2`` (underscores in names read as spaces)."""
    return "; ".join(f"{name.replace('_', ' ')}: {plain_value(v)}"
                     for name, v in values.items())
