"""What the service does on the clock: evaluators' reminders and the daily digest.

Run by a timer that reads the service clock (simulated in tests and demos). Both are
idempotent by key: a second tick, a second replica or a restart queue nothing twice.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters import store
from services.notifications.domain.delivery import FAILED
from services.notifications.handlers.delivery import outcome_event, queue
from services.notifications.domain.digest import (build_digest, day_window, digest_days,
                                                  digest_notifications)
from services.notifications.domain.reminders import due_reminders

_log = logging.getLogger(__name__)


def send_reminders(uow, now: datetime, settings) -> int:
    """Queue the reminders due at ``now``; returns how many messages were queued."""
    with uow:
        owed = store.assignments_to_remind(uow.session, now)
        notes = []
        for call_id in sorted({a.call_id for a in owed}):
            call = store.load_call(uow.session, call_id)
            if call is None:  # cannot happen: the assignment's own message needed the call
                continue
            mine = [a for a in owed if a.call_id == call_id]
            for reminder in due_reminders(mine, call, now, settings.reminder_days):
                notes.append(reminder.notification)
                store.record_reminded(uow.session, reminder.assignment, reminder.days_before,
                                      settings.reminder_days)
        queued = queue(uow, notes, now) if notes else 0
        uow.commit()
    return queued


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
                start, end = day_window(day, call.timezone)
                events = store.seen_between(uow.session, call_id, start, end) + [
                    outcome_event(row, row.sent_at or row.failed_at,
                                  row.last_error if row.status == FAILED else None)
                    for row in log.outcomes_between(uow.session, call_id, start, end)]
                digest = build_digest(day, call.timezone, events, waiting)
                queue(uow, digest_notifications(digest, call_id, settings.operations), now)
                made += 1
            uow.commit()
    return made


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
