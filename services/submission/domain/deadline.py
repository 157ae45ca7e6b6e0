"""When is a submission on time: strictly before the deadline instant, whatever zone the
receipt time is written in.

Comparisons are made in UTC on purpose: two aware datetimes sharing one ``ZoneInfo``
compare by wall time with ``fold`` ignored, so around a DST change ``<`` on local times
can be off by an hour.
"""
from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


def require_aware(moment: datetime, name: str = "time") -> datetime:
    """``moment`` itself; raises ValueError if it is naive (it names no instant)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment


def is_on_time(received_at: datetime, deadline: datetime) -> bool:
    """True iff ``received_at`` is strictly before the ``deadline`` instant (a receipt at
    the deadline itself is late)."""
    received = require_aware(received_at, "received_at").astimezone(UTC)
    return received < require_aware(deadline, "deadline").astimezone(UTC)


def is_closed(now: datetime, deadline: datetime) -> bool:
    """True from the deadline instant on: nothing may be submitted or edited any more."""
    return not is_on_time(now, deadline)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 text of the instant in UTC, always with microseconds, so one instant has
    exactly one text (the manifest hashes this text)."""
    return require_aware(moment).astimezone(UTC).isoformat(timespec="microseconds")
