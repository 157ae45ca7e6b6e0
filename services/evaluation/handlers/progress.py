"""Moving a proposal to consensus and a topic to its ranking, whenever something changed.

``settle_proposal`` and ``settle_topic`` run inside the caller's transaction (a command or
an event handler) after any change that may complete something: a final report, a
release, a note, a withdrawal, a stage. They are idempotent: a completed proposal or a
ranked topic is left alone, so calling them too often costs a query, never a second event.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.consensus import (
    WAITING_FOR_RAPPORTEUR, ConsensusStatus, assess, completed_event)
from services.evaluation.domain.planning import choose_rapporteur, should_rank, topic_progress
from services.evaluation.domain.ranking import Candidate, rank_topic, ranking_event
from services.evaluation.domain.reports import Report
from services.evaluation.domain.summary import placement_of
from services.evaluation.handlers.common import assigned_event
from shared.calls.model import Call
from shared.events import dump

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProposalRead:
    """A proposal as the caller's transaction read it, its row with the row's lock, and
    has not changed since but for ``reports``, which hold what it wrote: a report's
    writer reads all of this for its own checks, and settling the proposal reads none of
    it again (a final report sent 14 statements, 19 when it completed the proposal; with
    one read of each, 9 and 13). Reading the assignments at the start rather than after
    the write is safe: a release takes the row's lock, which the writer holds, and the
    solver only adds evaluators, to slots the assessment counts as missing."""

    row: Any
    topic: Any  # the topic's row
    active: list  # the proposal's active assignments
    reports: list[Report]  # every report on the proposal


def assessment(uow, call: Call, row, read: ProposalRead | None = None) -> ConsensusStatus | None:
    """Where the proposal's consensus stands (None before anyone is assigned)."""
    active = read.active if read else repo.active_assignments(uow, proposal_ids=[row.proposal_id])
    assigned = {a.expert_id for a in active}
    if not assigned:
        return None
    reports = read.reports if read else repo.reports_for(uow, row.proposal_id)
    consensus_report = next((r for r in reports if r.kind == "consensus"
                             and r.expert_id == row.rapporteur_id), None)
    return assess(row.proposal_id, call.evaluation,
                  reports=[r for r in reports if r.kind == "individual"],
                  assigned_expert_ids=assigned,
                  extra_evaluator_ids={a.expert_id for a in active if a.reason == "extra"},
                  consensus_report=consensus_report,
                  note=repo.note_from_json(row.proposal_id, row.consensus_note))


def settle_proposal(uow, call: Call, proposal_id: str, now: datetime,
                    causation_id: str | None = None,
                    read: ProposalRead | None = None) -> ConsensusStatus | None:
    """Complete the proposal's evaluation if its consensus is reached (publishing
    ``evaluation_completed``), or ask for a rapporteur when one is due. ``read``: what
    the transaction read of the proposal already (a report's writer), not read again."""
    row = read.row if read else repo.proposal_row(uow, proposal_id, lock=True)
    if row is None or row.completed_at is not None or not repo.proposal_state(row).takes_part:
        return None
    topic = read.topic if read else repo.topic_row(uow, row.call_id, row.topic_id)
    if topic is None or topic.ranked_at is not None:
        return None
    status = assessment(uow, call, row, read)
    if status is None:
        return None
    if status.complete:
        result = status.result
        repo.update_proposal(uow, proposal_id, consensus=repo.consensus_to_json(result),
                             completed_at=now)
        uow.add_events(completed_event(
            result, call_id=call.id, topic_id=row.topic_id,
            acronym=row.snapshot["acronym"], contact_emails=row.contact_emails or [],
            now=now, causation_id=causation_id))
    elif status.state == WAITING_FOR_RAPPORTEUR:
        _ensure_rapporteur(uow, call, row, now, causation_id)
    return status


def _ensure_rapporteur(uow, call: Call, row, now: datetime, causation_id: str | None) -> None:
    assigned = {a.expert_id for a in repo.active_assignments(uow, proposal_ids=[row.proposal_id])}
    if row.rapporteur_id in assigned:
        return
    chosen = choose_rapporteur(repo.reports_for(uow, row.proposal_id), assigned)
    if chosen is None:
        return
    repo.update_proposal(uow, row.proposal_id, rapporteur_id=chosen)
    uow.add_events(assigned_event(call, row, repo.expert_by_id(uow, chosen), "rapporteur", now,
                                  causation_id))


def settle_topic(uow, call: Call, topic_id: str, now: datetime, *, force: bool = False,
                 causation_id: str | None = None, read=None) -> bool:
    """Publish the topic's ranking if it is due (see :mod:`.domain.planning`); returns
    whether it was published now. ``read``: the topic's row as the transaction read it
    already, for the cheap exits (the ranking itself reads it again, locked)."""
    topic = read if read is not None else repo.topic_row(uow, call.id, topic_id)
    if topic is None or topic.ranked_at is not None:
        return False
    started = repo.stage_reached(uow, call.id, "evaluation_start")
    if not (force or started):  # cheap exit while screenings pour in at the deadline
        return False
    # lock, then read the progress: of two transactions completing the last two proposals,
    # the second waits here and then sees the first one's completion (none would rank
    # otherwise); a second ranking finds the topic ranked
    topic = repo.topic_row(uow, call.id, topic_id, lock=True)
    if topic.ranked_at is not None:
        return False
    if not force and repo.any_blocking_ranking(uow, call.id, topic_id):
        return False  # every completion asks; all but the last stop at this indexed look
    # where each proposal stands, without the snapshots: every completion asks, and only
    # the last one ranks (reading whole rows here was half the time of a report)
    progress = topic_progress(topic.closed_at is not None,
                              repo.topic_states(uow, call.id, topic_id))
    if not should_rank(progress, started, force):
        return False
    rows = repo.topic_proposals(uow, call.id, topic_id)
    try:
        call_topic = call.topic(topic_id)
    except KeyError:
        _log.error("topic %s is not in call %s v%d: cannot rank it", topic_id, call.id,
                   call.version)
        return False
    by_id = {r.proposal_id: r for r in rows}
    completed = [_candidate(by_id[p]) for p in progress.taking_part if p not in progress.incomplete]
    incomplete = [_candidate(by_id[p]) for p in progress.incomplete]
    if incomplete:
        _log.warning("ranking %s with %d proposal(s) not evaluated: %s", topic_id,
                     len(incomplete), ", ".join(progress.incomplete))
    ranking = rank_topic(call_topic, completed, call.evaluation, call.grants, incomplete=incomplete)
    event = ranking_event(ranking, call_id=call.id, now=now, causation_id=causation_id)
    repo.update_topic(uow, call.id, topic_id, ranked_at=now, ranking=dump(event))
    repo.update_proposals(uow, {pid: {"outcome": placement_of(ranking, pid)}
                                for pid in progress.taking_part})
    repo.bump_revision(uow)  # a solve planned before the ranking must not write after it
    uow.add_events(event)
    return True


def _candidate(row) -> Candidate:
    """A ranking candidate; without a consensus (incomplete) its scores are empty."""
    snapshot = row.snapshot
    if row.consensus:
        return Candidate.from_result(repo.consensus_from_json(row.consensus),
                                     topic_id=row.topic_id, snapshot=snapshot,
                                     received_at=row.received_at,
                                     contact_emails=row.contact_emails or [])
    return Candidate(row.proposal_id, row.topic_id, {}, row.received_at,
                     Decimal(snapshot["requested_grant"]), Decimal(snapshot["total_eligible_costs"]),
                     int(snapshot["duration_months"]), snapshot["acronym"],
                     tuple(row.contact_emails or ()),
                     tuple(dict(p) for p in snapshot.get("participants", ())))


def settle_call(uow, call: Call, now: datetime, *, force: bool = False,
                causation_id: str | None = None) -> list[str]:
    """Settle every topic of a call; returns the topics ranked now."""
    return [t.topic_id for t in repo.topic_rows(uow, call.id)
            if settle_topic(uow, call, t.topic_id, now, force=force, causation_id=causation_id)]
