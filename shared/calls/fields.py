"""Marshmallow fields of the call format, and how local wall times become instants.

A time in a call file is either a local wall time (``2019-01-31 17:00``), read in the
call's time zone, or carries an explicit offset (``2019-03-31T02:30:00+01:00``). Loading
only parses it into a :class:`WallTime`; :func:`resolve_wall_time` turns it into an aware
UTC instant once the call's zone is known, refusing wall times that a DST change skips or
repeats, because those do not name one instant.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, validate

UTC = timezone.utc
_END_OF_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]24:00(?::00)?$")


class WallTime(NamedTuple):
    """A parsed, not yet resolved time from a call file (naive: local to the call)."""

    value: datetime


class LocalTimeError(ValueError):
    """A local wall time that does not name exactly one instant in the zone."""


def parse_wall_time(text: str) -> WallTime:
    """Parse ISO 8601 text (``T`` or space; date alone means 00:00; ``24:00`` means the
    next day's 00:00, as in "31 January 2020 24:00")."""
    end_of_day = _END_OF_DAY.match(text.strip())
    if end_of_day:
        day = datetime.fromisoformat(end_of_day.group(1))
        return WallTime(day + timedelta(days=1))
    return WallTime(datetime.fromisoformat(text.strip()))


def resolve_wall_time(wall: WallTime, zone: ZoneInfo) -> datetime:
    """The aware UTC instant ``wall`` names: its own offset if it has one, else read in
    ``zone``. Raises :class:`LocalTimeError` for a skipped or repeated local time."""
    value = wall.value
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    early, late = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    shown = value.isoformat(sep=" ")
    offsets = f"{_offset(early)} or {_offset(late)}"
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        raise LocalTimeError(
            f"local time {shown} does not exist in {zone.key} (skipped when clocks go "
            f"forward); write it with an explicit UTC offset ({offsets})")
    raise LocalTimeError(
        f"local time {shown} is ambiguous in {zone.key} (it occurs twice when clocks go "
        f"back); write it with an explicit UTC offset ({offsets})")


def _offset(moment: datetime) -> str:
    return moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]


#: a call's times lie in these years (anything else is a typo, and the extremes cannot
#: even be converted between zones)
MIN_YEAR, MAX_YEAR = 1970, 2200


class Time(fields.Field):
    """Loads text into a :class:`WallTime`; dumps an aware instant as ISO text in UTC."""

    default_error_messages = {
        "invalid": "not a valid time: write 'YYYY-MM-DD HH:MM' (call time zone) or "
                   "ISO 8601 with an offset",
        "range": f"must be in the years {MIN_YEAR} to {MAX_YEAR}",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, WallTime):
            wall = value
        elif isinstance(value, datetime):
            wall = WallTime(value)
        elif not isinstance(value, str):
            raise self.make_error("invalid")
        else:
            try:
                wall = parse_wall_time(value)
            except ValueError as error:
                raise self.make_error("invalid") from error
        # the year 0001 read in a zone east of UTC is before datetime.min (a 500 once)
        if not MIN_YEAR <= wall.value.year <= MAX_YEAR:
            raise self.make_error("range")
        return wall

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).isoformat()


class Amount(fields.Decimal):
    """An exact decimal amount (money, points). Binary floats are refused: they are
    inexact, and the YAML reader already turns ``0.90`` into Decimal('0.90')."""

    def __init__(self, *, positive: bool = False, **kwargs):
        kwargs.setdefault("as_string", True)
        bound = validate.Range(min=0, min_inclusive=not positive,
                               error="must be greater than 0" if positive
                               else "must not be negative")
        kwargs["validate"] = [bound, *_as_list(kwargs.get("validate"))]
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (float, bool)):
            raise ValidationError("write amounts as integers or quoted text, not floats")
        return super()._deserialize(value, attr, data, **kwargs)


def Rate(**kwargs) -> Amount:  # noqa: N802 (a field factory reads like a field class)
    """A fraction between 0 and 1 inclusive, as an exact Decimal."""
    kwargs["validate"] = [validate.Range(min=0, max=1, error="must be between 0 and 1"),
                          *_as_list(kwargs.get("validate"))]
    return Amount(**kwargs)


def Count(**kwargs) -> fields.Integer:  # noqa: N802
    """A whole number (``strict``: 3.0 or "3" are refused) of at least ``minimum``."""
    minimum = kwargs.pop("minimum", 0)
    return fields.Integer(strict=True, validate=validate.Range(
        min=minimum, error=f"must be a whole number of at least {minimum}"), **kwargs)


def _as_list(validators) -> list:
    if validators is None:
        return []
    return list(validators) if isinstance(validators, (list, tuple)) else [validators]

