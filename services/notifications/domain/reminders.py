"""Reminders to evaluators before their report is due.

Run on each clock tick with the open assignments. For an assignment whose report is not
final, the reminder for ``d`` days is due once ``now`` is within ``d`` days of the due
instant (and before it). A reminder whose instant came before the assignment is never
sent (the assignment message already gave the due date), and only the most urgent due
reminder is sent: a service that was down for a week sends the 2-day reminder, not a late
7-day one too. Each (assignment, offset) has its own key, so a second
run sends nothing again even if the caller forgot to record ``reminded_days``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from shared.calls.model import Call
from shared.events import EvaluatorAssigned

from services.notifications.domain import notification as n
from services.notifications.domain.contexts import call_context, topic_context
from shared.formatting import instant, time_left
from services.notifications.domain.notification import Notification, unique_recipients

DEFAULT_OFFSETS_DAYS = (7, 2)


@dataclass(frozen=True)
class Assignment:
    """An evaluator's assignment as the service tracks it from evaluator_assigned /
    evaluator_released / evaluation_report_submitted (final)."""

    assigned_event_id: str  # the evaluator_assigned event: the reminder keys derive from it
    call_id: str
    topic_id: str
    proposal_id: str
    acronym: str
    expert_id: str
    expert_name: str
    expert_email: str
    due_at: datetime
    assigned_at: datetime | None = None
    finalised: bool = False
    released: bool = False
    reminded_days: frozenset[int] = frozenset()  # offsets already sent


    @classmethod
    def from_event(cls, event: EvaluatorAssigned) -> "Assignment":
        return cls(assigned_event_id=event.event_id, call_id=event.call_id,
                   topic_id=event.topic_id, proposal_id=event.proposal_id,
                   acronym=event.acronym, expert_id=event.expert_id,
                   expert_name=event.expert_name, expert_email=event.expert_email,
                   due_at=event.due_at, assigned_at=event.occurred_at)


@dataclass(frozen=True)
class Reminder:
    assignment: Assignment
    days_before: int
    notification: Notification


def due_reminders(assignments: Iterable[Assignment], call: Call, now: datetime,
                  offsets_days: Sequence[int] = DEFAULT_OFFSETS_DAYS) -> list[Reminder]:
    """The reminders to send at ``now``; record each ``days_before`` on its assignment."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    reminders = []
    for assignment in assignments:
        days = _most_urgent_due(assignment, now, offsets_days)
        if days is not None:
            reminders.append(Reminder(assignment, days, _notify(assignment, days, call, now)))
    return reminders


def next_reminder_at(assignment: Assignment,
                     offsets_days: Sequence[int] = DEFAULT_OFFSETS_DAYS) -> datetime | None:
    """The instant from which the next reminder of ``assignment`` may fall due, or None
    when none will: after the ``d``-day reminder only more urgent ones remain, and a
    reminder whose instant is not after the assignment is never sent. The service keeps
    this per assignment so each clock tick reads only the assignments with one due."""
    if assignment.finalised or assignment.released:
        return None
    sent = min(assignment.reminded_days, default=None)
    instants = [assignment.due_at - timedelta(days=d) for d in offsets_days
                if sent is None or d < sent]
    if assignment.assigned_at is not None:
        instants = [at for at in instants if at > assignment.assigned_at]
    return min(instants, default=None)


def _most_urgent_due(assignment: Assignment, now: datetime,
                     offsets_days: Sequence[int]) -> int | None:
    if assignment.finalised or assignment.released or now >= assignment.due_at:
        return None
    due = [d for d in offsets_days
           if now >= (at := assignment.due_at - timedelta(days=d))
           and (assignment.assigned_at is None or at > assignment.assigned_at)]
    if not due:
        return None
    urgent = min(due)
    # a reminder at least as urgent was sent already: a less urgent one would mislead
    if any(sent <= urgent for sent in assignment.reminded_days):
        return None
    return urgent


def _notify(assignment: Assignment, days: int, call: Call, now: datetime) -> Notification:
    [recipient] = unique_recipients([assignment.expert_email])
    return Notification(
        recipient=recipient, role=n.EXPERT, template=n.EVALUATION_REMINDER,
        context={**call_context(call), **topic_context(call, assignment.topic_id),
                 "recipient": recipient, "role": n.EXPERT,
                 "proposal_id": assignment.proposal_id, "acronym": assignment.acronym,
                 "expert_name": assignment.expert_name, "days_before": days,
                 "time_left": time_left(assignment.due_at - now),
                 "due_at": instant(assignment.due_at, call.timezone)},
        source_event_id=assignment.assigned_event_id, source_event_type="evaluator_assigned",
        call_id=assignment.call_id, proposal_id=assignment.proposal_id,
        dedupe_id=f"reminder:{assignment.assigned_event_id}:{days}d")
