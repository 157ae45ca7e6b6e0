"""The call's timetable as a driver: which milestones are due, in which order.

A milestone fires once its instant is reached (``at <= now``) and it has not fired yet.
The newest call version decides the instants of what has not fired; what fired stays
fired. A clock that jumps over several milestones fires each of them, oldest first, so
no stage is ever skipped.
"""
from __future__ import annotations

from datetime import datetime
from typing import Collection

from services.submission.domain.deadline import require_aware
from shared.calls.model import Call, Milestone, milestones

#: the milestone at which topics close and proposals are screened
DEADLINE = "submission_deadline"


def due_milestones(call: Call, fired: Collection[str], now: datetime) -> list[Milestone]:
    """Milestones of ``call`` reached by ``now`` that have not fired, in time order
    (ties keep the order of the call file)."""
    require_aware(now, "now")
    return [m for m in milestones(call) if m.at <= now and m.key not in fired]


def current_stage(call: Call, now: datetime) -> Milestone | None:
    """The last milestone reached by ``now`` (None before the first one)."""
    reached = [m for m in milestones(call) if m.at <= now]
    return reached[-1] if reached else None
