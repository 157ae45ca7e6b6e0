"""What evaluators do (role ``evaluator``, identified by the email of their token): see
their assignments, write and finalise reports, declare a conflict, decline, and, as
rapporteur, write the consensus report or record a consensus note.

Every view goes through the conflict guard (:func:`.domain.conflicts.visibility_for`):
an expert sees a proposal only while assigned to it and checked clear of conflicts; a
proposal that is not yours is a 404, exactly like one that does not exist. Nothing here
names another evaluator.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.conflicts import (
    ConflictCheck, DeclarationError, check_conflict, declare_by_expert, declare_by_operations,
    visibility_for)
from services.evaluation.domain.consensus import ConsensusNote, record_consensus_note
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.reports import (
    NotAllowed, Report, ReportError, ReportLocked, finalise, report_submitted_event, save_draft)
from services.evaluation.handlers.assigning import refill
from services.evaluation.handlers.common import (
    assigned_row, me, not_assigned, release, require_call, require_expert, require_open,
    require_proposal)
from services.evaluation.handlers.progress import ProposalRead, settle_proposal, settle_topic
from shared.calls.model import Call
from shared.web import Conflict, NotFound, Unprocessable


# ------------------------------------------------------------------ views
def my_assignments(uow, email: str) -> list[dict]:
    with uow:
        expert = me(uow, email)
        records = [_summary(uow, expert, a) for a in repo.active_assignments(uow, expert_id=expert.id)]
        return _visible(uow, expert, records)


def my_assignment(uow, email: str, proposal_id: str) -> dict:
    with uow:
        expert = me(uow, email)
        row = my_assignment_row(uow, expert, proposal_id)
        assignment = repo.assignment_row(uow, proposal_id, expert.id)
        view = {**_summary(uow, expert, assignment), "proposal": row.snapshot,
                "report": _report_view(repo.report_of(uow, proposal_id, expert.id, "individual"))}
        if row.rapporteur_id == expert.id:
            view["consensus_report"] = _report_view(
                repo.report_of(uow, proposal_id, expert.id, "consensus"))
            # the individual reports, final ones only and unnamed, to draft the consensus
            finals = [r for r in repo.reports_for(uow, proposal_id)
                      if r.kind == "individual" and r.final]
            view["individual_reports"] = [{"evaluator": f"evaluator {i}", **_report_view(r)}
                                          for i, r in enumerate(finals, start=1)]
        return _visible(uow, expert, [view])[0]


def my_assignment_row(uow, expert: Expert, proposal_id: str, lock: bool = False):
    """The proposal of an active assignment that the expert may see (404 otherwise)."""
    row = assigned_row(uow, expert, proposal_id, lock=lock)
    if not _visible(uow, expert, [{"proposal_id": proposal_id, "call_id": row.call_id}],
                    read=[row]):
        raise not_assigned(proposal_id)
    return row


def _visible(uow, expert: Expert, records: list[dict], read=()) -> list[dict]:
    """The records (each with ``proposal_id`` and ``call_id``) the expert may see;
    ``read``: proposal rows the caller has read in this transaction already."""
    known = {row.proposal_id: row for row in read}
    kept = []
    for call_id in sorted({r["call_id"] for r in records}):
        mine = [r for r in records if r["call_id"] == call_id]
        rows = [known[r["proposal_id"]] if r["proposal_id"] in known
                else repo.proposal_row(uow, r["proposal_id"]) for r in mine]
        visibility = visibility_for(
            expert, [repo.consortium(row) for row in rows if row is not None],
            require_call(uow, call_id).evaluation,
            repo.declarations_for(uow, expert_id=expert.id))
        kept += visibility.filter(mine)
    return sorted(kept, key=lambda r: r["proposal_id"])


def _summary(uow, expert: Expert, assignment) -> dict:
    row = repo.proposal_row(uow, assignment.proposal_id)
    report = repo.report_of(uow, row.proposal_id, expert.id, "individual")
    return {"proposal_id": row.proposal_id, "call_id": row.call_id, "topic_id": row.topic_id,
            "acronym": row.snapshot["acronym"], "title": row.snapshot["title"],
            "assigned_at": assignment.assigned_at, "due_at": assignment.due_at,
            "rapporteur": row.rapporteur_id == expert.id,
            "report_status": "none" if report is None else ("final" if report.final else "draft"),
            "evaluation_completed": row.completed_at is not None}


def _report_view(report: Report | None) -> dict | None:
    if report is None:
        return None
    criteria = sorted(set(report.scores) | set(report.comments))
    return {"final": report.final, "updated_at": report.updated_at,
            "finalised_at": report.finalised_at, "total": str(report.total),
            "criteria": {c: {"score": None if c not in report.scores else str(report.scores[c]),
                             "comment": report.comments.get(c)} for c in criteria}}


# ------------------------------------------------------------------ reports
def save_report(uow, clock, email: str, proposal_id: str, body: dict, kind: str) -> dict:
    """Save the draft as sent (``final`` true also finalises it, in the same transaction)."""
    with uow:
        writing = _writer(uow, email, proposal_id, kind)
        current = writing.report_of(kind)
        scores = {c: v["score"] for c, v in body["criteria"].items() if "score" in v}
        comments = {c: v["comment"] for c, v in body["criteria"].items() if "comment" in v}
        now = clock.now()
        with _report_errors():
            report = save_draft(current, proposal_id=proposal_id, expert_id=writing.expert.id,
                                scores=scores, comments=comments,
                                rules=writing.call.evaluation, now=now,
                                assigned_expert_ids=writing.allowed,
                                conflict=writing.conflict, kind=kind)
            if body["final"]:
                report = finalise(report, rules=writing.call.evaluation, now=now,
                                  assigned_expert_ids=writing.allowed, conflict=writing.conflict)
        repo.save_report(uow, report, existed=current is not None)
        _after_report(uow, writing, report, now)
        uow.commit()
    return _report_view(report)


def finalise_report(uow, clock, email: str, proposal_id: str, kind: str) -> dict:
    with uow:
        writing = _writer(uow, email, proposal_id, kind)
        current = writing.report_of(kind)
        if current is None:
            raise NotFound(f"no {kind} report saved on {proposal_id} yet",
                           [{"field": "report", "rule": "save a draft first"}])
        now = clock.now()
        with _report_errors():
            report = finalise(current, rules=writing.call.evaluation, now=now,
                              assigned_expert_ids=writing.allowed, conflict=writing.conflict)
        repo.save_report(uow, report, existed=True)
        _after_report(uow, writing, report, now)
        uow.commit()
    return _report_view(report)


@dataclass(frozen=True)
class _Writing:
    """Who writes a report, on what, under which rules, and what the proposal's
    consensus will be assessed from: read once for the report's whole transaction."""

    expert: Expert
    call: Call
    allowed: set[str]  # who may write this kind of report
    conflict: ConflictCheck
    proposal: ProposalRead

    def report_of(self, kind: str) -> Report | None:
        """The writer's own report of ``kind``, as stored."""
        return next((r for r in self.proposal.reports
                     if r.expert_id == self.expert.id and r.kind == kind), None)

    def after(self, report: Report) -> ProposalRead:
        """The proposal as read, with ``report`` written."""
        others = [r for r in self.proposal.reports
                  if (r.expert_id, r.kind) != (report.expert_id, report.kind)]
        return replace(self.proposal, reports=[*others, report])


def _writer(uow, email: str, proposal_id: str, kind: str) -> _Writing:
    """Who writes, on what, with which rules; the checks of the domain follow. The same
    checks as a view's (:func:`my_assignment_row`: an active assignment, clear of
    conflicts, else a 404), from one read of the proposal's assignments and of the pair's
    declarations, kept for settling the proposal after the report is written."""
    expert = me(uow, email)
    row = repo.proposal_row(uow, proposal_id, lock=True)
    active = [] if row is None else repo.active_assignments(uow, proposal_ids=[proposal_id])
    if row is None or expert.id not in {a.expert_id for a in active}:
        raise not_assigned(proposal_id)
    call = require_call(uow, row.call_id)
    conflict = check_conflict(expert, repo.consortium(row), call.evaluation,
                              repo.declarations_for(uow, proposal_ids=[proposal_id],
                                                    expert_id=expert.id))
    if conflict.conflicted:  # the conflict guard hides the proposal as _visible would
        raise not_assigned(proposal_id)
    topic = require_open(uow, row)
    if kind == "consensus":
        if call.evaluation.consensus_method != "rapporteur" or row.rapporteur_id != expert.id:
            raise NotFound(f"you are not the rapporteur of {proposal_id}",
                           [{"field": "proposal_id", "rule": "not your consensus report"}])
        allowed = {row.rapporteur_id}
    else:
        allowed = {a.expert_id for a in active}
    return _Writing(expert, call, allowed, conflict,
                    ProposalRead(row, topic, active, repo.reports_for(uow, proposal_id)))


class _report_errors:
    """Domain report errors as HTTP errors naming the field and the rule."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ReportLocked):
            raise Conflict(str(exc), _split(exc.issues)) from None
        if isinstance(exc, ReportError):
            raise Unprocessable(str(exc), _split(exc.issues)) from None
        if isinstance(exc, NotAllowed):
            raise NotFound(str(exc), [{"field": "proposal_id", "rule": "not yours"}]) from None
        return False


def _split(issues) -> list[dict]:
    """``criteria.relevance.score: 31 is above the maximum 30`` -> field and rule."""
    out = []
    for issue in issues:
        field, _, rule = issue.partition(": ")
        out.append({"field": field, "rule": rule} if rule else {"field": "report", "rule": issue})
    return out


def _after_report(uow, writing: _Writing, report: Report, now: datetime) -> None:
    if not report.final:
        return
    call, row = writing.call, writing.proposal.row
    if report.kind == "individual":
        uow.add_events(report_submitted_event(report, call_id=call.id, topic_id=row.topic_id,
                                              now=now))
    status = settle_proposal(uow, call, row.proposal_id, now, read=writing.after(report))
    if status is not None and status.complete:  # only a completion can complete the topic
        settle_topic(uow, call, row.topic_id, now, read=writing.proposal.topic)


# ------------------------------------------------------------------ conflicts and declines
def declare_conflict(uow, solver, clock, email: str, proposal_id: str, reason: str) -> dict:
    """The expert declares a conflict: recorded for good, the assignment released, the
    slot refilled by someone else."""
    with uow:
        expert = me(uow, email)
        row = assigned_row(uow, expert, proposal_id, lock=True)
        require_open(uow, row)
        now = clock.now()
        assigned = {a.expert_id for a in repo.active_assignments(uow, proposal_ids=[proposal_id])}
        try:
            declared = declare_by_expert(expert.id, proposal_id, reason,
                                         assigned_expert_ids=assigned, now=now)
        except DeclarationError as exc:
            raise Unprocessable(str(exc), [{"field": "reason", "rule": str(exc)}]) from None
        repo.save_declaration(uow, declared)
        _release_and_settle(uow, row, expert, "conflict_declared", now)
        uow.commit()
    refill(uow, solver, clock, [proposal_id], expert.email)
    return {"proposal_id": proposal_id, "status": "released", "reason": "conflict_declared"}


def decline(uow, solver, clock, email: str, proposal_id: str, reason: str) -> dict:
    with uow:
        expert = me(uow, email)
        row = assigned_row(uow, expert, proposal_id, lock=True)
        require_open(uow, row)
        report = repo.report_of(uow, proposal_id, expert.id, "individual")
        if report is not None and report.final:
            raise Conflict("your report is final: the assignment can no longer be declined",
                           [{"field": "proposal_id", "rule": "report final"}])
        _release_and_settle(uow, row, expert, "declined", clock.now(), note=reason or None)
        uow.commit()
    refill(uow, solver, clock, [proposal_id], expert.email)
    return {"proposal_id": proposal_id, "status": "released", "reason": "declined"}


def _release_and_settle(uow, row, expert: Expert, reason: str, now: datetime,
                        note: str | None = None) -> None:
    release(uow, row, expert, reason, now, note=note)
    repo.bump_revision(uow)
    call = repo.load_call(uow, row.call_id)
    settle_proposal(uow, call, row.proposal_id, now)


def declare_by_ops(uow, solver, clock, body: dict, operator: str) -> tuple[int, dict]:
    """Operations record a conflict on any pair; an active assignment is released."""
    with uow:
        expert = require_expert(uow, body["expert_id"])
        row = require_proposal(uow, body["proposal_id"], lock=True)
        require_open(uow, row)
        now = clock.now()
        try:
            declared = declare_by_operations(expert.id, row.proposal_id, body["reason"],
                                             operator=operator, now=now)
        except DeclarationError as exc:
            raise Unprocessable(str(exc), [{"field": "reason", "rule": str(exc)}]) from None
        created = repo.save_declaration(uow, declared)
        assignment = repo.assignment_row(uow, row.proposal_id, expert.id)
        released = assignment is not None and assignment.status == "active"
        if released:
            _release_and_settle(uow, row, expert, "operations", now, note=body["reason"])
        elif created:
            repo.bump_revision(uow)
        uow.commit()
    if released:
        refill(uow, solver, clock, [row.proposal_id], operator)
    return (201 if created else 200), {"expert_id": expert.id, "proposal_id": row.proposal_id,
                                       "created": created, "released": released}


def list_declarations(uow, proposal_id: str | None, expert_id: str | None) -> list[dict]:
    with uow:
        return [{"expert_id": d.expert_id, "proposal_id": d.proposal_id, "source": d.source,
                 "reason": d.reason, "declared_by": d.declared_by, "declared_at": d.declared_at}
                for d in repo.declarations_for(
                    uow, proposal_ids=None if proposal_id is None else [proposal_id],
                    expert_id=expert_id)]


# ------------------------------------------------------------------ consensus note
def record_note(uow, clock, principal, proposal_id: str, text: str) -> dict:
    """A consensus note resolves a flagged spread (operations, or the rapporteur)."""
    with uow:
        if principal.is_operations:
            row = require_proposal(uow, proposal_id, lock=True)
            author = principal.email
        else:
            expert = me(uow, principal.email)
            row = my_assignment_row(uow, expert, proposal_id, lock=True)
            if row.rapporteur_id != expert.id:
                raise NotFound(f"you are not the rapporteur of {proposal_id}",
                               [{"field": "proposal_id", "rule": "not your proposal's note"}])
            author = expert.id
        require_open(uow, row)
        call = require_call(uow, row.call_id)
        now = clock.now()
        try:
            note: ConsensusNote = record_consensus_note(proposal_id, text, recorded_by=author,
                                                        now=now)
        except ValueError as exc:
            field, _, rule = str(exc).partition(": ")
            raise Unprocessable(str(exc), [{"field": field, "rule": rule}]) from None
        repo.update_proposal(uow, proposal_id, consensus_note=repo.note_to_json(note))
        row = repo.proposal_row(uow, proposal_id)
        status = settle_proposal(uow, call, proposal_id, now)
        if status is not None and status.complete:
            settle_topic(uow, call, row.topic_id, now)
        uow.commit()
    return {"proposal_id": proposal_id, "note": repo.note_to_json(note),
            "state": None if status is None else status.state}
