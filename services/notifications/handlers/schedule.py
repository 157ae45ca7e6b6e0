"""What the service does on the clock: evaluators' reminders and the daily digest.

Run by a timer that reads the service clock (simulated in tests and demos). Both are
idempotent by key: a second tick, a second replica or a restart queue nothing twice.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters import store
from services.notifications.handlers.delivery import outcome_event, queue
from services.notifications.domain.digest import (DayTally, day_window, digest_days,
                                                  digest_notifications, digest_of)
from services.notifications.domain.reminders import due_reminders

_log = logging.getLogger(__name__)


#: assignments whose reminders are queued per transaction: a tick may owe a reminder to
#: every open assignment (the assignments of a round share their due date: the
#: 10,000-proposal call sent 16,438 reminders, nearly all at two instants), and they were
#: all read, rendered, queued and updated in one transaction
REMIND_PAGE = 1000


def send_reminders(uow, now: datetime, settings) -> int:
    """Queue the reminders due at ``now``, a page of owed assignments per transaction
    (each page's messages and its assignments' reminded marks commit together, so a crash
    between pages keeps what was done and the next tick owes only the rest); returns how
    many messages were queued."""
    queued, after = 0, None
    while True:
        with uow:
            owed = store.assignments_to_remind(uow.session, now, after, REMIND_PAGE)
            if not owed:
                return queued
            notes, sent = [], []
            for call_id in sorted({a.call_id for a in owed}):
                call = store.load_call(uow.session, call_id)
                if call is None:  # cannot happen: the assignment's own message needed the call
                    continue
                mine = [a for a in owed if a.call_id == call_id]
                for reminder in due_reminders(mine, call, now, settings.reminder_days):
                    notes.append(reminder.notification)
                    sent.append((reminder.assignment, reminder.days_before))
            store.record_reminded(uow.session, sent, settings.reminder_days)
            queued += queue(uow, notes, now) if notes else 0
            uow.commit()
        if len(owed) < REMIND_PAGE:  # the last page: asking again would find nothing
            return queued
        after = owed[-1].assigned_event_id


def send_digests(uow, now: datetime, settings, dead_letters) -> int:
    """Queue the daily digests due at ``now`` (see domain.digest.digest_days); returns how
    many digests were made. ``dead_letters.waiting(call_id)`` lists the dead letters."""
    due = _digests_due(uow, now)
    made = 0
    for call_id, days in due.items():
        waiting = dead_letters.waiting(call_id)  # read off the broker, outside a transaction
        with uow:
            call = store.load_call(uow.session, call_id)
            for day in days:
                if not store.mark_digested(uow.session, call_id, day, now):
                    continue  # another replica made it
                digest = digest_of(day, call.timezone,
                                   _tally(uow.session, call_id, day, call.timezone), waiting)
                queue(uow, digest_notifications(digest, call_id, settings.operations), now)
                made += 1
            uow.commit()
    return made


def _tally(session, call_id: str, day: date, timezone: str) -> DayTally:
    """The day's counts from the database (the events seen, and our own outcomes from the
    delivery log); only failures and breaches are read whole, to be listed."""
    start, end = day_window(day, timezone)
    delivered = log.sent_counts_between(session, call_id, start, end)
    failures = [outcome_event(row, row.sent_at or row.failed_at, row.last_error)
                for row in log.failed_between(session, call_id, start, end)]
    counts = Counter(store.seen_counts(session, call_id, start, end))
    counts.update({"notification_delivered": sum(delivered.values()),
                   "notification_failed": len(failures)})
    return DayTally(events=counts, delivered=delivered, failures=failures,
                    breaches=store.seen_of_type(session, call_id, start, end,
                                                "time_target_breached"))


def _digests_due(uow, now: datetime) -> dict[str, list[date]]:
    due = {}
    with uow:
        for call_id in store.call_ids(uow.session):
            call = store.load_call(uow.session, call_id)
            today = call.local(now).date()
            last = store.last_digest_day(uow.session, call_id)
            if last is not None and last >= today - timedelta(days=1):
                continue  # yesterday is done; today is not over
            start = day_window(last + timedelta(days=1), call.timezone)[0] if last else None
            instants = store.seen_instants(uow.session, call_id, start,
                                           day_window(today, call.timezone)[0])
            days = digest_days(today, last, {call.local(at).date() for at in instants}, call)
            if days:
                due[call_id] = days
    return due
