"""Helpers the evaluation handlers share: loading what a command needs (or the HTTP
error saying why not), and building the events that concern an expert."""
from __future__ import annotations

from datetime import datetime, timedelta

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.experts import Expert
from shared.calls.model import Call
from shared.events import EvaluatorAssigned, EvaluatorReleased
from shared.web import Conflict, NotFound


def require_call(uow, call_id: str) -> Call:
    call = repo.load_call(uow, call_id)
    if call is None:
        raise NotFound(f"no call {call_id} is known to evaluation",
                       [{"field": "call_id", "rule": "unknown call"}])
    return call


def require_expert(uow, expert_id: str, field: str = "expert_id", lock: bool = False) -> Expert:
    expert = repo.expert_by_id(uow, expert_id, lock=lock)
    if expert is None:
        raise NotFound(f"no expert {expert_id}", [{"field": field, "rule": "unknown expert"}])
    return expert


def me(uow, email: str) -> Expert:
    """The expert an evaluator's token names (by email)."""
    expert = repo.expert_by_email(uow, email)
    if expert is None:
        raise NotFound(f"no expert of the pool has the email {email}",
                       [{"field": "token.sub", "rule": "not an expert of the pool"}])
    return expert


def require_proposal(uow, proposal_id: str, lock: bool = False):
    row = repo.proposal_row(uow, proposal_id, lock=lock)
    if row is None or not row.screened:
        raise NotFound(f"no proposal {proposal_id} under evaluation",
                       [{"field": "proposal_id", "rule": "unknown proposal"}])
    return row


def assigned_row(uow, expert: Expert, proposal_id: str, lock: bool = False):
    """The proposal row of an active assignment of ``expert``; 404 otherwise (a proposal
    that is not yours looks exactly like one that does not exist)."""
    row = repo.proposal_row(uow, proposal_id, lock=lock)
    assignment = repo.assignment_row(uow, proposal_id, expert.id)
    if row is None or assignment is None or assignment.status != "active":
        raise not_assigned(proposal_id)
    return row


def not_assigned(proposal_id: str) -> NotFound:
    """What an evaluator is told of a proposal that is not theirs to see: not assigned,
    conflicted or unknown alike."""
    return NotFound(f"proposal {proposal_id} is not assigned to you",
                    [{"field": "proposal_id", "rule": "not one of your assignments"}])


def require_open(uow, row):
    """409 unless the proposal's evaluation can still change; returns the topic's row
    (None for a topic evaluation has no row of)."""
    if row.withdrawn_at is not None:
        raise Conflict(f"proposal {row.proposal_id} was withdrawn",
                       [{"field": "proposal_id", "rule": "withdrawn"}])
    if row.completed_at is not None:
        raise Conflict(f"the evaluation of {row.proposal_id} is completed",
                       [{"field": "proposal_id", "rule": "evaluation completed"}])
    topic = repo.topic_row(uow, row.call_id, row.topic_id)
    if topic is not None and topic.ranked_at is not None:
        raise Conflict(f"the ranking of {row.topic_id} is published",
                       [{"field": "proposal_id", "rule": "ranking published"}])
    return topic


def acronym(row) -> str:
    return (row.snapshot or {}).get("acronym", row.proposal_id)


def assigned_event(call: Call, row, expert: Expert, reason: str, now: datetime,
                   causation_id: str | None = None) -> EvaluatorAssigned:
    return EvaluatorAssigned(
        call_id=call.id, correlation_id=row.proposal_id, occurred_at=now,
        causation_id=causation_id, proposal_id=row.proposal_id, topic_id=row.topic_id,
        expert_id=expert.id, expert_name=expert.name, expert_email=expert.email,
        acronym=acronym(row), due_at=due_at(call, now), reason=reason)


def due_at(call: Call, now: datetime) -> datetime:
    return now + timedelta(days=call.evaluation.report_due_days)


def release(uow, row, expert: Expert, reason: str, now: datetime, *, note: str | None = None,
            causation_id: str | None = None) -> None:
    """Release an active assignment and record ``evaluator_released``."""
    repo.release_assignment(uow, row.proposal_id, expert.id, reason, now, note)
    uow.add_events(EvaluatorReleased(
        call_id=row.call_id, correlation_id=row.proposal_id, occurred_at=now,
        causation_id=causation_id, proposal_id=row.proposal_id, topic_id=row.topic_id,
        expert_id=expert.id, expert_email=expert.email, reason=reason,
        expert_name=expert.name, acronym=acronym(row)))
