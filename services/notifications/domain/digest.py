"""The daily digest for operations: what happened on one calendar day of the call.

Built from the events the notifications service saw that day (including its own
notification_delivered / notification_failed and the time_target_breached alerts) and
the dead letters waiting in the dead-letter queue when the digest is made (what operations
has to look at now, whenever it died: the queue's timestamps are wall-clock instants, which
a simulated call clock cannot be compared with). One message per operations address per
day.

Which days get one (:func:`digest_days`): every day on which the call saw events, once it
is over in the call's time zone; a quiet day only while the call's timetable runs (an
empty digest then says the system is alive and nothing is stuck). After a long outage or a
jump of the simulated clock only the most recent days are caught up.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from shared.calls.model import Call, milestones
from shared.events import Event, NotificationDelivered, NotificationFailed, TimeTargetBreached

from services.notifications.domain import notification as n
from shared.formatting import day as day_text, instant
from services.notifications.domain.notification import Notification, unique_recipients
from services.notifications.domain.wording import MEASURES, say


@dataclass(frozen=True)
class DeadLetter:
    """A message that ended in a dead-letter queue, as the messaging layer reports it."""

    queue: str
    event_type: str
    event_id: str
    reason: str
    dead_at: datetime


@dataclass(frozen=True)
class Digest:
    day: date
    timezone: str
    events: dict[str, int]  # event type -> count
    delivered: dict[str, int]  # template -> count
    failed: dict[str, int]  # template -> count
    failures: tuple[NotificationFailed, ...]
    dead_letters: tuple[DeadLetter, ...]
    breaches: tuple[TimeTargetBreached, ...]


def day_window(on: date, timezone: str) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of ``on`` in ``timezone`` (23 or 25 hours on DST days)."""
    zone = ZoneInfo(timezone)
    return (datetime.combine(on, time(), zone),
            datetime.combine(on + timedelta(days=1), time(), zone))


@dataclass(frozen=True)
class DayTally:
    """What a digest needs of one day: counts, and whole events only where it lists them
    (failures, breaches). A deadline day of a 10,000-proposal call holds some 100,000
    events and as many sent messages; the service counts those in the database instead of
    loading them (:func:`digest_of`)."""

    events: Mapping[str, int]  # event type -> count, our own outcomes included
    delivered: Mapping[str, int]  # template -> count
    failures: Sequence[NotificationFailed]
    breaches: Sequence[TimeTargetBreached]


def tally(on: date, timezone: str, events: Iterable[Event]) -> DayTally:
    """The tally of the events that fall on ``on`` in ``timezone`` (the others ignored)."""
    start, end = day_window(on, timezone)
    todays = [e for e in events if start <= e.occurred_at < end]
    return DayTally(
        events=Counter(e.event_type() for e in todays),
        delivered=Counter(e.template for e in todays if isinstance(e, NotificationDelivered)),
        failures=[e for e in todays if isinstance(e, NotificationFailed)],
        breaches=[e for e in todays if isinstance(e, TimeTargetBreached)])


def digest_of(on: date, timezone: str, day: DayTally,
              dead_letters: Iterable[DeadLetter]) -> Digest:
    """The digest of a day's tally, with the dead letters waiting now (all listed)."""
    return Digest(
        day=on, timezone=timezone,
        events=dict(sorted((k, v) for k, v in day.events.items() if v)),
        delivered=dict(sorted((k, v) for k, v in day.delivered.items() if v)),
        failed=dict(sorted(Counter(e.template for e in day.failures).items())),
        failures=tuple(day.failures),
        dead_letters=tuple(sorted(dead_letters, key=lambda d: (d.dead_at, d.event_id))),
        breaches=tuple(day.breaches))


def build_digest(on: date, timezone: str, events: Iterable[Event],
                 dead_letters: Iterable[DeadLetter]) -> Digest:
    """Count what falls on ``on`` in ``timezone``; anything outside the day is ignored,
    so the caller may pass a wider slice. Pass one call's events for a per-call digest,
    and the dead letters waiting now (all of them are listed)."""
    return digest_of(on, timezone, tally(on, timezone, events), dead_letters)


def reports_quiet_days(call: Call, on: date) -> bool:
    """Whether ``on`` gets a digest even without events: while the timetable runs (from
    its first milestone to its last, in the call's time zone)."""
    points = milestones(call)
    if not points:
        return False
    start, end = day_window(on, call.timezone)
    return points[0].at < end and start <= points[-1].at


def digest_days(today: date, last_done: date | None, active_days: Iterable[date],
                call: Call, most: int = 7) -> list[date]:
    """The days whose digest is due on ``today`` (the call's local date), oldest first:
    days with events after ``last_done`` and before today, and yesterday if quiet days
    are reported and the service already knew the call then (no digest for a day before
    the first event it saw); at most the ``most`` latest."""
    days = {d for d in active_days if d < today and (last_done is None or d > last_done)}
    start = last_done + timedelta(days=1) if last_done else min(days, default=None)
    yesterday = today - timedelta(days=1)
    if start is not None and yesterday >= start and reports_quiet_days(call, yesterday):
        days.add(yesterday)
    return sorted(days)[-most:]


def digest_notifications(digest: Digest, call_id: str,
                         operations: Sequence[str]) -> list[Notification]:
    """The digest message for each operations address, keyed by call and day."""
    context = digest_context(digest, call_id)
    source_id = f"daily-digest:{call_id}:{digest.day.isoformat()}"
    return [Notification(recipient=address, role=n.OPERATIONS, template=n.DAILY_DIGEST,
                         context={**context, "recipient": address, "role": n.OPERATIONS},
                         source_event_id=source_id, source_event_type="daily_digest",
                         call_id=call_id)
            for address in unique_recipients(operations)]


def digest_context(digest: Digest, call_id: str) -> dict[str, Any]:
    tz = digest.timezone
    return {
        "call_id": call_id, "day": day_text(digest.day), "timezone": tz,
        "events": [{"type": k, "count": v} for k, v in digest.events.items()],
        "events_total": sum(digest.events.values()),
        "delivered": [{"template": k, "count": v} for k, v in digest.delivered.items()],
        "delivered_total": sum(digest.delivered.values()),
        "failed": [{"template": k, "count": v} for k, v in digest.failed.items()],
        "failed_total": sum(digest.failed.values()),
        "failures": [{"recipient": f.recipient, "template": f.template, "reason": f.reason,
                      "proposal_id": f.proposal_id or "-"} for f in digest.failures],
        "dead_letters": [{"queue": d.queue, "event_type": d.event_type,
                          "event_id": d.event_id, "reason": d.reason,
                          "dead_at": instant(d.dead_at, tz)} for d in digest.dead_letters],
        "breaches": [{"proposal_id": b.proposal_id, "measure": say(MEASURES, b.measure),
                      "days": b.days, "target_months": b.target_months}
                     for b in digest.breaches],
    }
