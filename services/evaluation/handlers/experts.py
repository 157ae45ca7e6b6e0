"""The expert pool: import, list, edit, deactivate, reactivate (operations).

An import is all or nothing: any problem in any row (or against the roster) rejects the
whole file with every problem listed, so operations fix the file in one pass. A change
that affects current assignments is applied at once: a deactivated expert is released
from every proposal whose report is not final (reason ``deactivated``), and an edit of
organisation or country that creates a conflict releases that assignment (reason
``operations``). The freed slots are refilled by a repair run after the commit.
"""
from __future__ import annotations

from datetime import datetime

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.conflicts import check_conflict
from services.evaluation.domain.experts import (
    Expert, ExpertValidationError, deactivate, edit_expert, merge_import, parse_csv,
    parse_records, reactivate)
from services.evaluation.handlers.assigning import refill
from services.evaluation.handlers.common import release, require_expert
from services.evaluation.handlers.progress import settle_proposal
from shared.web import BadRequest, Unprocessable


def _issues(issues) -> list[dict]:
    return [{"field": i.field or "_row", "row": i.row, "rule": i.rule, "message": str(i)}
            for i in issues]


def expert_view(expert: Expert, load: int | None = None) -> dict:
    view = {"id": expert.id, "name": expert.name, "email": expert.email,
            "country": expert.country, "organisation_id": expert.organisation_id,
            "expertise_areas": list(expert.expertise_areas), "keywords": list(expert.keywords),
            "languages": list(expert.languages), "max_load": expert.max_load,
            "active": expert.active}
    if load is not None:
        view["load"] = load
    return view


def parse_import(content_type: str, raw: str, body: dict | None):
    """An import body: ``text/csv``, or JSON ``{"csv": "..."}`` or ``{"experts": [...]}``."""
    if content_type.startswith("text/csv"):
        return parse_csv(raw)
    if isinstance(body, dict) and isinstance(body.get("csv"), str) and "experts" not in body:
        return parse_csv(body["csv"])
    if isinstance(body, dict) and "experts" in body and "csv" not in body:
        return parse_records(body["experts"])
    raise BadRequest("send text/csv, or JSON with exactly one of 'csv' (text) or 'experts' "
                     "(a list of objects)", [{"field": "_body", "rule": "csv or experts"}])


def import_experts(uow, solver, clock, parsed, operator: str) -> dict:
    if not parsed.ok:
        raise Unprocessable(f"{len(parsed.issues)} problem(s) in the import; nothing imported",
                            _issues(parsed.issues))
    with uow:
        roster = repo.all_experts(uow)
        change = merge_import(roster, parsed)
        if change.issues:
            raise Unprocessable(f"{len(change.issues)} row(s) clash with the pool; nothing "
                                "imported", _issues(change.issues))
        now = clock.now()
        before = {e.id: e for e in roster}
        for expert in change.added:
            repo.insert_expert(uow, expert, now)
        freed = []
        for expert, _fields in change.updated:
            repo.update_expert(uow, expert, now)
            freed += _apply_consequences(uow, before[expert.id], expert, now)
        if change.added or change.updated:
            repo.bump_revision(uow)
        uow.commit()
    refill(uow, solver, clock, freed, operator)
    return {"added": [e.id for e in change.added],
            "updated": [{"id": e.id, "fields": list(f)} for e, f in change.updated],
            "unchanged": [e.id for e in change.unchanged], "released": freed}


def list_experts(uow) -> list[dict]:
    with uow:
        loads = repo.active_loads(uow)
        return [expert_view(e, loads.get(e.id, 0)) for e in repo.all_experts(uow)]


def get_expert(uow, expert_id: str) -> dict:
    with uow:
        expert = require_expert(uow, expert_id)
        assignments = repo.active_assignments(uow, expert_id=expert_id)
        return {**expert_view(expert, len(assignments)),
                "assignments": [{"proposal_id": a.proposal_id, "topic_id": a.topic_id,
                                 "reason": a.reason, "assigned_at": a.assigned_at,
                                 "due_at": a.due_at} for a in assignments]}


def edit(uow, solver, clock, expert_id: str, changes: dict, operator: str) -> dict:
    with uow:
        expert = require_expert(uow, expert_id, lock=True)
        try:
            new, changed = edit_expert(expert, changes, repo.all_experts(uow))
        except ExpertValidationError as exc:
            raise Unprocessable(str(exc), _issues(exc.issues)) from None
        now = clock.now()
        freed = []
        if changed:
            repo.update_expert(uow, new, now)
            freed = _apply_consequences(uow, expert, new, now)
            repo.bump_revision(uow)
        uow.commit()
    refill(uow, solver, clock, freed, operator)
    return {**expert_view(new), "changed": list(changed), "released": freed}


def set_active(uow, solver, clock, expert_id: str, active: bool, operator: str) -> dict:
    with uow:
        expert = require_expert(uow, expert_id, lock=True)
        new = reactivate(expert) if active else deactivate(expert)
        now = clock.now()
        freed = []
        if new != expert:
            repo.update_expert(uow, new, now)
            freed = _apply_consequences(uow, expert, new, now)
            repo.bump_revision(uow)
        uow.commit()
    refill(uow, solver, clock, freed, operator)
    return {**expert_view(new), "released": freed}


def _apply_consequences(uow, before: Expert, after: Expert, now: datetime) -> list[str]:
    """Release what an expert change makes wrong; returns the proposals released."""
    if before.active and not after.active:
        return _release_where(uow, after, now, "deactivated", lambda row: True)
    if (before.organisation_id, before.country) != (after.organisation_id, after.country):
        def conflicted(row):
            call = repo.load_call(uow, row.call_id)
            declared = repo.declarations_for(uow, proposal_ids=[row.proposal_id])
            return check_conflict(after, repo.consortium(row), call.evaluation,
                                  declared).conflicted
        return _release_where(uow, after, now, "operations", conflicted)
    return []


def _release_where(uow, expert: Expert, now: datetime, reason: str, predicate) -> list[str]:
    freed = []
    for assignment in repo.active_assignments(uow, expert_id=expert.id):
        row = repo.proposal_row(uow, assignment.proposal_id, lock=True)
        topic = repo.topic_row(uow, row.call_id, row.topic_id)
        if row.completed_at is not None or (topic is not None and topic.ranked_at is not None):
            continue  # finished evaluations stand
        report = repo.report_of(uow, row.proposal_id, expert.id, "individual")
        if reason == "deactivated" and report is not None and report.final:
            continue  # a final report stays valid
        if predicate(row):
            release(uow, row, expert, reason, now)
            call = repo.load_call(uow, row.call_id)
            settle_proposal(uow, call, row.proposal_id, now)
            freed.append(row.proposal_id)
    return freed
