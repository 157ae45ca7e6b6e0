"""Handlers of the events evaluation consumes (all from submission).

Each runs inside ``UnitOfWork.consume`` (the effect and the processed event id commit
together) and tolerates any arrival order: a screening before the manifest that lists it,
a withdrawal before the screening, a stage before the call. What is not known yet is
stored and acted upon when the missing piece arrives. The assignment itself is never run
here: the sweeper (a timer) runs it, outside any consumer, once a topic is ready.
"""
from __future__ import annotations

from datetime import datetime

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.conflicts import check_conflict, unknown_conflict_rules
from services.evaluation.handlers.common import release
from services.evaluation.handlers.progress import settle_call, settle_topic
from shared.calls.loader import call_from_wire
from shared.calls.schema import InvalidCall
from shared.messaging.consumer import PermanentFailure

EVALUATION_START, EVALUATION_END = "evaluation_start", "evaluation_end"
INFORMATION_TO_APPLICANTS = "information_to_applicants"


def on_call_published(uow, event, now: datetime) -> bool:
    """Keep our copy of the call (the newest version wins); a call we could not apply
    correctly is a permanent failure for operations to look at, not a silent skip."""
    try:
        call = call_from_wire(event.call)
    except InvalidCall as exc:
        raise PermanentFailure(f"call {event.call_id} v{event.version} does not validate: {exc}")
    unknown = unknown_conflict_rules(call.evaluation.conflict_rules)
    if unknown:
        raise PermanentFailure(f"call {call.id} names conflict rules evaluation does not "
                               f"know: {', '.join(unknown)}")
    stored = repo.save_call(uow, call, event.call, now)
    for topic in call.topics:
        repo.ensure_topic(uow, call.id, topic.id)
    if stored and call.version > 1:
        _release_new_conflicts(uow, call, now, event.event_id)
    settle_call(uow, call, now, force=repo.stage_reached(uow, call.id, EVALUATION_END),
                causation_id=event.event_id)
    return stored


def _release_new_conflicts(uow, call, now: datetime, causation_id: str) -> None:
    """An amendment may add conflict rules: release what they now forbid (the sweeper
    refills the slots); finished evaluations stand."""
    for assignment in repo.active_assignments(uow):
        row = repo.proposal_row(uow, assignment.proposal_id, lock=True)
        if row.call_id != call.id or row.completed_at is not None:
            continue
        expert = repo.expert_by_id(uow, assignment.expert_id)
        declared = repo.declarations_for(uow, proposal_ids=[row.proposal_id])
        if check_conflict(expert, repo.consortium(row), call.evaluation, declared).conflicted:
            release(uow, row, expert, "operations", now, causation_id=causation_id)
            repo.bump_revision(uow)


def on_deadline_closed(uow, event, now: datetime) -> None:
    """The topic's proposals are known: note each frozen version and its receipt time."""
    topic = repo.ensure_topic(uow, event.call_id, event.topic_id)
    if topic.closed_at is not None:
        return
    repo.update_topic(uow, event.call_id, event.topic_id, closed_at=event.closed_at,
                      manifest_hash=event.manifest_hash)
    repo.note_manifest(uow, event.call_id, event.topic_id, [
        {"proposal_id": entry["proposal_id"], "version": entry["version"],
         "received_at": datetime.fromisoformat(entry["received_at"])}
        for entry in event.manifest])
    _settle(uow, event, now)


def on_proposal_screened(uow, event, now: datetime) -> None:
    """Eligible proposals enter evaluation with their frozen snapshot; others are noted."""
    on_proposals_screened(uow, [event], now)


def on_proposals_screened(uow, events: list, now: datetime) -> None:
    """A batch of screenings (the deadline sends one per proposal), in one transaction:
    noted in one statement (rows locked in proposal-id order, so concurrent batches never
    deadlock; a proposal screened already is left as it is), then each topic they
    concern settled once."""
    ordered = sorted(events, key=lambda e: e.proposal_id)
    noted = repo.note_screenings(uow, [_screening(event) for event in ordered])
    last_of_topic = {}
    for event in ordered:
        if event.proposal_id in noted:
            noted.discard(event.proposal_id)  # a repeat in the batch was not noted
            last_of_topic[(event.call_id, event.topic_id)] = event
    for _, event in sorted(last_of_topic.items()):
        _settle(uow, event, now)


def _screening(event) -> dict:
    return {"proposal_id": event.proposal_id, "call_id": event.call_id,
            "topic_id": event.topic_id, "eligible": bool(event.admissible and event.eligible),
            "snapshot": _snapshot(event.proposal), "contact_emails": event.contact_emails,
            "version": event.version}


def _snapshot(proposal: dict) -> dict:
    """The snapshot as stored: JSON-safe (money as text)."""
    return {k: (str(v) if k in ("total_eligible_costs", "requested_grant") else v)
            for k, v in proposal.items()}


def on_proposal_withdrawn(uow, event, now: datetime) -> None:
    """Release the evaluators and leave the proposal out of the ranking; after the
    ranking was published only the withdrawal itself is noted."""
    row = repo.ensure_proposal(uow, event.proposal_id, event.call_id, event.topic_id)
    if row.withdrawn_at is not None:
        return
    repo.update_proposal(uow, event.proposal_id, withdrawn_at=event.withdrawn_at)
    topic = repo.ensure_topic(uow, event.call_id, event.topic_id)
    if topic.ranked_at is not None:
        return
    for assignment in repo.active_assignments(uow, proposal_ids=[event.proposal_id]):
        release(uow, row, repo.expert_by_id(uow, assignment.expert_id), "proposal_withdrawn",
                now, causation_id=event.event_id)
    repo.bump_revision(uow)
    _settle(uow, event, now)


def on_stage_reached(uow, event, now: datetime) -> None:
    """Record the milestone. evaluation_start lets the sweeper assign (and ranks topics
    with nothing to evaluate); evaluation_end ranks every topic not ranked yet, the
    unfinished proposals as rejected; information_to_applicants opens the summaries."""
    if not repo.record_stage(uow, event.call_id, event.stage, event.at):
        return
    call = repo.load_call(uow, event.call_id)
    if call is not None and event.stage in (EVALUATION_START, EVALUATION_END):
        settle_call(uow, call, now, force=event.stage == EVALUATION_END,
                    causation_id=event.event_id)


def _settle(uow, event, now: datetime) -> None:
    call = repo.load_call(uow, event.call_id)
    if call is not None:
        settle_topic(uow, call, event.topic_id, now,
                     force=repo.stage_reached(uow, call.id, EVALUATION_END),
                     causation_id=event.event_id)
