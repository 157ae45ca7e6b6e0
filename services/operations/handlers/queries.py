"""Read side: what operations asks of the projections. Each query is one read-only unit
of work; unknown ids are a 404 naming the field."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from services.operations.adapters.metrics import PROPOSALS_BY_STATE
from services.operations.adapters.projections import Projections
from services.operations.domain import lifecycle
from services.operations.domain.facts import show_due_dates
from services.operations.domain.loads import expert_loads
from services.operations.domain.report import CallFigures, summary
from services.operations.domain.timetable import current, timetable
from shared.web import NotFound, to_json


def _unknown(field: str, value: str, what: str) -> NotFound:
    return NotFound(f"no {what} {value!r} is known to operations",
                    errors=[{"field": field, "rule": f"unknown {what}"}])


def list_calls(uow) -> dict:
    with uow:
        repo = Projections(uow.session)
        counts = repo.proposal_counts()
        calls = []
        for row in repo.call_rows():
            stage = current(repo.reached_of(row), repo.call_of(row))
            calls.append({"id": row.call_id, "title": row.title, "version": row.version,
                          "proposals": counts.get(row.call_id, 0),
                          "current_stage": _stage(stage)})
        return {"calls": calls}


def _stage(stage) -> dict | None:
    return None if stage is None else {"stage": stage.stage, "label": stage.label,
                                       "at": stage.at}


def _call_info(call_id: str, row, call) -> dict:
    info = {"id": call_id, "title": row.title if row is not None else None,
            "version": row.version if row is not None else None,
            "published": row is not None and row.version is not None, "valid": call is not None}
    if call is not None:
        info.update(timezone=call.timezone, currency=call.currency, budget=call.budget)
    return info


def known_call(repo: Projections, call_id: str):
    """The call's row and its Call (None until published or if invalid); 404 if
    operations never heard of the call."""
    row = repo.call_row(call_id)
    if row is None and not repo.has_proposals(call_id):
        raise _unknown("call_id", call_id, "call")
    return row, repo.call_of(row)


def _summary(repo: Projections, call_id: str, call, figures: CallFigures) -> dict:
    return summary(figures, repo.topic_infos(call_id, call), repo.notification_counts(call_id))


def _call_figures(repo: Projections, call_id: str):
    """The call's row, Call and summary figures, its views folded a page at a time."""
    row, call = known_call(repo, call_id)
    figures = CallFigures()
    for views in repo.views_in_pages(call_id):
        figures.add(views)
    return row, call, _summary(repo, call_id, call, figures)


def overview(uow, call_id: str, now: datetime) -> dict:
    """The call at a glance: timetable with the current stage, counts per state, each
    topic's ranking and budget line, totals."""
    with uow:
        repo = Projections(uow.session)
        row, call, figures = _call_figures(repo, call_id)
        reached = repo.reached_of(row)
        return {
            "call": _call_info(call_id, row, call),
            "current_stage": _stage(current(reached, call)),
            "timetable": timetable(call, reached),
            "counts": {k: figures[k] for k in ("proposals", "final", "by_state",
                                               "by_final_state")},
            "topics": figures["topics"],
            "totals": {k: figures[k] for k in ("grants_signed", "granted_total",
                                               "letters_sent", "notifications")},
            "events": repo.event_counts(call_id),
            "generated_at": now,
        }


def _row(view: lifecycle.ProposalView) -> dict:
    return {"id": view.proposal_id, "topic": view.topic_id, "acronym": view.acronym,
            "state": view.state, "final_state": view.final_state, "list": view.list,
            "rank": view.rank, "total_score": view.total_score,
            "failed_rules": view.failed_rule_ids, "promoted": view.promoted,
            "grant_amount": view.grant_amount, "state_since": view.state_since}


def call_proposals_json(uow, call_id: str, state: str | None = None,
                        topic: str | None = None) -> Iterator[str]:
    """The call's proposals (no timelines), optionally of one state or topic, in report
    order, as the JSON text ``{"call_id", "proposals": [...]}`` written a page at a time
    (as :func:`report_json`)."""
    with uow:
        repo = Projections(uow.session)
        known_call(repo, call_id)
        yield '{"call_id": ' + to_json(call_id) + ', "proposals": ['
        separator = ""
        for views in repo.views_in_pages(call_id, REPORT_PAGE, topic_id=topic, state=state):
            yield separator + ", ".join(to_json(_row(view)) for view in views)
            separator = ", "
        yield "]}"


def _entries(facts, zone: str | None) -> list[dict]:
    """A timeline; due dates in ``zone``, the call's (as in the mail)."""
    return [{"event_type": f.event_type, "occurred_at": f.occurred_at,
             "summary": show_due_dates(f.summary, zone)} for f in lifecycle.ordered(facts)]


#: proposals (with their timelines) read and written per step of the call report
REPORT_PAGE = 1000


def report_json(uow, call_id: str, now: datetime, page: int = REPORT_PAGE) -> Iterator[str]:
    """The call's JSON report, ``{"proposals": [...], "summary": {...}}``: every proposal
    with its outcome and timeline, and the call's figures. It is written as it is read,
    ``page`` proposals and their timelines at a time, the summary (folded over the pages)
    last, so the report of a call of 100,000 proposals (some 2.4 million timeline entries)
    is never held in memory; the views come from one query, so the summary counts exactly
    the proposals listed."""
    with uow:
        repo = Projections(uow.session)
        _, call = known_call(repo, call_id)
        zone = call.timezone if call is not None else None
        figures = CallFigures()
        yield '{"proposals": ['
        separator = ""
        for views in repo.views_in_pages(call_id, page):
            figures.add(views)
            facts = repo.facts_by_proposal([v.proposal_id for v in views], with_data=False)
            yield separator + ", ".join(to_json({
                "id": view.proposal_id, "topic": view.topic_id,
                "final_state": view.final_state, "state": view.state,
                "failed_rules": view.failed_rule_ids, "total_score": view.total_score,
                "rank": view.rank, "list": view.list,
                "timeline": _entries(facts[view.proposal_id], zone)}) for view in views)
            separator = ", "
        yield '], "summary": ' + to_json({"call_id": call_id, "generated_at": now,
                                          **_summary(repo, call_id, call, figures)}) + "}"


def _known_view(repo: Projections, proposal_id: str):
    found = repo.view(proposal_id)
    if found is not None:
        return found
    call_id = repo.proposal_call(proposal_id)
    if call_id is None:
        raise _unknown("proposal_id", proposal_id, "proposal")
    return call_id, lifecycle.derive(proposal_id, repo.facts(proposal_id,
                                                             lifecycle.LIFECYCLE_EVENTS))


def proposal(uow, proposal_id: str) -> dict:
    """One proposal: its state, outcome figures and timeline."""
    with uow:
        repo = Projections(uow.session)
        call_id, view = _known_view(repo, proposal_id)
        return {**_row(view), "call_id": call_id, "title": view.title,
                "applicant_name": view.applicant_name, "version": view.version,
                "admissible": view.admissible, "eligible": view.eligible,
                "failed_rule_details": list(view.failed_rules), "scores": view.scores,
                "passed": view.passed, "failed_thresholds": list(view.failed_thresholds),
                "ranking_amount": view.ranking_amount, "requested_grant": view.requested_grant,
                "grant_id": view.grant_id, "signed": view.signed,
                "withdrawal_reason": view.withdrawal_reason,
                "decline_reason": view.decline_reason,
                "timeline": _entries(repo.facts(proposal_id, with_data=False),
                                     repo.call_zone(call_id))}


def proposal_timeline(uow, proposal_id: str) -> list[dict]:
    """Every event concerning the proposal, in lifecycle order, with its payload."""
    with uow:
        repo = Projections(uow.session)
        facts = repo.facts(proposal_id, with_data=False)
        if not facts:
            raise _unknown("proposal_id", proposal_id, "proposal")
        payloads = repo.payloads([f.event_id for f in facts])
        zone = repo.call_zone(repo.proposal_call(proposal_id))
        return [{"event_id": f.event_id, "event_type": f.event_type,
                 "occurred_at": f.occurred_at, "summary": show_due_dates(f.summary, zone),
                 "payload": payloads.get(f.event_id)} for f in lifecycle.ordered(facts)]


def loads(uow, call_id: str | None = None) -> dict:
    """Each evaluator's current assignment load, by topic."""
    with uow:
        return {"call_id": call_id,
                "experts": expert_loads(Projections(uow.session).assignments(call_id))}


def refresh_state_gauge(uow) -> None:
    """Set the proposals-by-state gauge from the projections (read at each scrape, so
    every replica reports the same figures)."""
    with uow:
        found = Projections(uow.session).state_counts()
    for call_id in {c for c, _, _ in found}:
        for state in lifecycle.STATES:
            PROPOSALS_BY_STATE.labels(call_id, state).set(0)
    for call_id, state, number in found:
        if state is not None:
            PROPOSALS_BY_STATE.labels(call_id, state).set(number)
