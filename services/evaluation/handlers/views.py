"""Read side for operations (topics, a proposal's evaluation, assignments, loads, runs,
rankings), the ranking command, and the Evaluation Summary Report for applicants."""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from services.evaluation.adapters import repository as repo
from services.evaluation.adapters.summary_render import render_summary_html
from shared.documents import html_to_pdf
from services.evaluation.adapters.tables import assignment_runs, assignments, reports
from services.evaluation.domain.planning import topic_progress
from services.evaluation.domain.summary import build_summary, incomplete_summary
from services.evaluation.handlers.common import require_call, require_proposal
from services.evaluation.handlers.events import INFORMATION_TO_APPLICANTS
from services.evaluation.handlers.progress import assessment, settle_topic
from shared.web import Conflict, Forbidden, NotFound


# ------------------------------------------------------------------ topics and rankings
def call_topics(uow, call_id: str) -> list[dict]:
    with uow:
        require_call(uow, call_id)
        return [_topic_view(uow, call_id, t) for t in repo.topic_rows(uow, call_id)]


def _topic_view(uow, call_id: str, topic) -> dict:
    rows = repo.topic_proposals(uow, call_id, topic.topic_id)
    progress = topic_progress(topic.closed_at is not None, map(repo.proposal_state, rows))
    return {"topic_id": topic.topic_id, "closed_at": topic.closed_at,
            "assignment_status": topic.assignment_status,
            "assignment_diagnosis": topic.assignment_message or [],
            "assigned_at": topic.assigned_at, "ranked_at": topic.ranked_at,
            "proposals": len(rows), "awaiting_screening": list(progress.awaiting_screening),
            "evaluated": len(progress.taking_part), "incomplete": list(progress.incomplete),
            "short_of_evaluators": [{"proposal_id": r.proposal_id, "diagnosis": r.repair_message}
                                    for r in rows if r.repair_message]}


def ranking(uow, call_id: str, topic_id: str) -> dict:
    with uow:
        require_call(uow, call_id)
        return _published(uow, call_id, topic_id).ranking


def _published(uow, call_id: str, topic_id: str):
    """The topic's row; NotFound naming why when it is unknown or not ranked yet."""
    topic = repo.topic_row(uow, call_id, topic_id)
    if topic is None:
        raise NotFound(f"no topic {topic_id} in {call_id}",
                       [{"field": "topic_id", "rule": "unknown topic"}])
    if topic.ranking is None:
        raise NotFound(f"the ranking of {topic_id} is not published yet",
                       [{"field": "topic_id", "rule": "not ranked yet"}])
    return topic


#: columns of the ranking export, one row per ranked proposal
RANKING_COLUMNS = ("call_id", "topic_id", "list", "position", "rank", "proposal_id", "acronym",
                   "total", "requested_grant", "grant_amount", "failed_thresholds")


def ranking_rows(uow, call_id: str, topic_id: str | None = None) -> list[dict]:
    """Every published ranking of the call (or of one topic) as rows: main list, reserve
    list, rejected, in order (``position`` within its list)."""
    with uow:
        require_call(uow, call_id)
        topics = ([_published(uow, call_id, topic_id)] if topic_id is not None
                  else [t for t in repo.topic_rows(uow, call_id) if t.ranking is not None])
        return [{**entry, "call_id": call_id, "topic_id": topic.topic_id, "list": name,
                 "position": position}
                for topic in topics for name in ("main", "reserve", "rejected")
                for position, entry in enumerate(topic.ranking[name], start=1)]


def publish_ranking(uow, clock, call_id: str, topic_id: str, force: bool) -> dict:
    """Operations publish a topic's ranking: at once if every proposal is evaluated,
    with ``force`` also when some are not (they are rejected as incomplete)."""
    with uow:
        call = require_call(uow, call_id)
        topic = repo.topic_row(uow, call_id, topic_id)
        if topic is None:
            raise NotFound(f"no topic {topic_id} in {call_id}",
                           [{"field": "topic_id", "rule": "unknown topic"}])
        if topic.ranked_at is not None:
            raise Conflict(f"the ranking of {topic_id} is already published",
                           [{"field": "topic_id", "rule": "already ranked"}])
        view = _topic_view(uow, call_id, topic)
        if topic.closed_at is None:
            raise Conflict(f"{topic_id} is not closed", [{"field": "topic_id", "rule": "not closed"}])
        if (view["incomplete"] or view["awaiting_screening"]) and not force:
            raise Conflict(f"{len(view['incomplete'])} proposal(s) not evaluated and "
                           f"{len(view['awaiting_screening'])} not screened; send force=true to "
                           "rank now and reject the unevaluated ones",
                           [{"field": "force", "rule": "evaluation incomplete: "
                                                       + ", ".join(view["incomplete"]
                                                                   + view["awaiting_screening"])}])
        settle_topic(uow, call, topic_id, clock.now(), force=True)
        uow.commit()
    return ranking(uow, call_id, topic_id)


# ------------------------------------------------------------------ one proposal
def proposal_evaluation(uow, proposal_id: str) -> dict:
    """Everything about a proposal's evaluation, for operations."""
    with uow:
        row = require_proposal(uow, proposal_id)
        call = require_call(uow, row.call_id)
        pairs = uow.session.execute(sa.select(assignments).where(
            assignments.c.proposal_id == proposal_id).order_by(assignments.c.assigned_at,
                                                               assignments.c.expert_id)).all()
        status = assessment(uow, call, row) if repo.proposal_state(row).takes_part else None
        return {
            "proposal_id": row.proposal_id, "call_id": row.call_id, "topic_id": row.topic_id,
            "acronym": row.snapshot["acronym"], "eligible": row.eligible,
            "withdrawn_at": row.withdrawn_at, "target_evaluators": row.target_evaluators,
            "assignments": [{"expert_id": a.expert_id, "status": a.status, "reason": a.reason,
                             "assigned_at": a.assigned_at, "due_at": a.due_at,
                             "released_at": a.released_at, "release_reason": a.release_reason,
                             "note": a.note} for a in pairs],
            "repair_diagnosis": row.repair_message,
            "reports": [{"expert_id": r.expert_id, "kind": r.kind, "final": r.final,
                         "total": str(r.total), "scores": {k: str(v) for k, v in r.scores.items()},
                         "updated_at": r.updated_at} for r in repo.reports_for(uow, proposal_id)],
            "consensus_state": None if status is None else status.state,
            "missing_reports": [] if status is None else list(status.missing_reports),
            "spread": None if status is None or status.spread is None else {
                "value": str(status.spread.value), "threshold": str(status.spread.threshold),
                "flagged": status.spread.flagged},
            "rapporteur_id": row.rapporteur_id, "consensus_note": row.consensus_note,
            "consensus": row.consensus, "completed_at": row.completed_at, "outcome": row.outcome,
        }


#: columns of the assignment export
ASSIGNMENT_COLUMNS = ("proposal_id", "expert_id", "topic_id", "reason", "assigned_at", "due_at")


def list_assignments(uow, topic_id: str | None, expert_id: str | None) -> list[dict]:
    with uow:
        query = sa.select(assignments).where(assignments.c.status == "active")
        if topic_id:
            query = query.where(assignments.c.topic_id == topic_id)
        if expert_id:
            query = query.where(assignments.c.expert_id == expert_id)
        return [{"proposal_id": a.proposal_id, "expert_id": a.expert_id, "topic_id": a.topic_id,
                 "reason": a.reason, "assigned_at": a.assigned_at, "due_at": a.due_at}
                for a in uow.session.execute(query.order_by(assignments.c.proposal_id,
                                                            assignments.c.expert_id))]


def loads(uow) -> list[dict]:
    """Per expert: max load, current load in total and per topic, final reports."""
    with uow:
        per_topic: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for a in uow.session.execute(sa.select(assignments.c.expert_id, assignments.c.topic_id)
                                     .where(assignments.c.status == "active")):
            per_topic[a.expert_id][a.topic_id] += 1
        finals = dict(uow.session.execute(
            sa.select(reports.c.expert_id, sa.func.count()).where(reports.c.final.is_(True))
            .group_by(reports.c.expert_id)).all())
        return [{"expert_id": e.id, "name": e.name, "active": e.active, "max_load": e.max_load,
                 "load": sum(per_topic[e.id].values()), "by_topic": dict(per_topic[e.id]),
                 "final_reports": finals.get(e.id, 0)} for e in repo.all_experts(uow)]


def runs(uow, limit: int = 50) -> list[dict]:
    with uow:
        rows = uow.session.execute(sa.select(assignment_runs).order_by(
            assignment_runs.c.started_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


# ------------------------------------------------------------------ summary report
def summary(uow, principal, proposal_id: str) -> dict:
    """The Evaluation Summary Report: operations at any time once evaluated; an applicant
    who is a contact of the proposal once information to applicants is reached."""
    with uow:
        row = repo.proposal_row(uow, proposal_id)
        visible = row is not None and (principal.is_operations or repo.is_contact(row, principal.email))
        if not visible or not (row.consensus or row.outcome):
            raise NotFound(f"no evaluation summary for {proposal_id}",
                           [{"field": "proposal_id", "rule": "no evaluated proposal of yours"}])
        call = require_call(uow, row.call_id)
        if not principal.is_operations and not repo.stage_reached(uow, row.call_id,
                                                                  INFORMATION_TO_APPLICANTS):
            at = call.stage(INFORMATION_TO_APPLICANTS).starts_at.isoformat()
            raise Forbidden(f"summary reports are released to applicants at information to "
                            f"applicants ({at})",
                            [{"field": "proposal_id", "rule": "not released yet"}])
        common = dict(call_id=call.id, topic_id=row.topic_id, acronym=row.snapshot["acronym"],
                      title=row.snapshot.get("title", ""))
        if not row.consensus:
            return incomplete_summary(call.evaluation, proposal_id=proposal_id, **common)
        return build_summary(repo.consensus_from_json(row.consensus), call.evaluation,
                             placement=row.outcome, **common)


def summary_html(uow, principal, proposal_id: str) -> str:
    return render_summary_html(summary(uow, principal, proposal_id))


def summary_pdf(uow, principal, proposal_id: str) -> bytes:
    """The same report as a PDF (rendered on request: about 0.1 s of CPU a page)."""
    report = summary(uow, principal, proposal_id)
    return html_to_pdf(render_summary_html(report),
                       title=f"Evaluation Summary Report: {report['acronym']} ({proposal_id})")
