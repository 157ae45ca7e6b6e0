"""Evaluators' assignment loads from ``evaluator_assigned`` / ``evaluator_released``.

One record per (expert, proposal) keeps the latest assignment and the latest release
instants, so the two events may arrive in either order and more than once. An assignment
is current when it was assigned after its latest release (a release at the same instant
wins: a release always follows the assignment it ends).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable


@dataclass(frozen=True)
class Assignment:
    expert_id: str
    proposal_id: str
    topic_id: str | None
    expert_name: str = ""
    expert_email: str = ""
    assigned_at: datetime | None = None
    released_at: datetime | None = None
    report_final: bool = False

    @property
    def current(self) -> bool:
        return self.assigned_at is not None and (
            self.released_at is None or self.assigned_at > self.released_at)


def merged(record: Assignment | None, fact: Assignment) -> Assignment:
    """One more fact about an (expert, proposal) folded into its record: the first known
    topic, name and e-mail, the latest assignment and release, and final once reported.
    The fold is order-free, so a batch of facts merges to what one-by-one gives."""
    if record is None:
        return fact
    return Assignment(record.expert_id, record.proposal_id,
                      record.topic_id or fact.topic_id,
                      record.expert_name or fact.expert_name,
                      record.expert_email or fact.expert_email,
                      later(record.assigned_at, fact.assigned_at),
                      later(record.released_at, fact.released_at),
                      record.report_final or fact.report_final)


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional instants (how a record keeps the latest of each)."""
    return b if a is None else a if b is None else max(a, b)


def expert_loads(assignments: Iterable[Assignment]) -> list[dict]:
    """Per expert: current load, current load by topic, reports still due, releases;
    heaviest load first, then expert id."""
    experts: dict[str, dict] = {}
    for a in assignments:
        entry = experts.setdefault(a.expert_id, {
            "expert_id": a.expert_id, "name": "", "email": "", "current": 0, "by_topic": {},
            "reports_due": 0, "reports_final": 0, "released": 0})
        entry["name"] = entry["name"] or a.expert_name
        entry["email"] = entry["email"] or a.expert_email
        if a.current:
            entry["current"] += 1
            topic = a.topic_id or "?"
            entry["by_topic"][topic] = entry["by_topic"].get(topic, 0) + 1
            entry["reports_due"] += 0 if a.report_final else 1
        elif a.released_at is not None:
            entry["released"] += 1
        entry["reports_final"] += 1 if a.report_final else 0
    for entry in experts.values():
        entry["by_topic"] = dict(sorted(entry["by_topic"].items()))
    return sorted(experts.values(), key=lambda e: (-e["current"], e["expert_id"]))
