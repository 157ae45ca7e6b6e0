"""Views of evaluation's pages. Every evaluator view goes through the API's handlers,
whose conflict guard hides a proposal the expert is not assigned to, or conflicted on,
exactly like one that does not exist; none of them names another evaluator (the
rapporteur sees the other final reports, unnamed, as the API gives them)."""
from __future__ import annotations

from marshmallow import ValidationError

from services.evaluation import handlers as h
from services.evaluation.handlers.pages import scoring_rules
from services.evaluation.schemas import DeclineSchema, ReasonSchema, ReportSchema
from shared.pages.forms import errors_of, text
from shared.web import Forbidden, NotFound, Unprocessable

KINDS = {"report": "individual", "consensus": "consensus"}
NOTICES = ("conflict", "declined", "saved", "finalised")


def _notice(page) -> str:
    done = page.request.args.get("done", "")
    return done if done in NOTICES else ""


def _kind(form_kind: str) -> str:
    if form_kind not in KINDS:
        raise NotFound("no such form", [{"field": "form", "rule": "report or consensus"}])
    return KINDS[form_kind]


# ------------------------------------------------------------------ my assignments
def assignments(page, uow):
    mine = h.evaluators.my_assignments(uow, page.session.email)
    zones = {call_id: scoring_rules(uow, call_id)["timezone"]
             for call_id in {a["call_id"] for a in mine}}
    return page.render("assignments.html.j2", assignments=mine, zones=zones,
                       notice=_notice(page))


def _assignment(page, uow, proposal_id: str) -> tuple[dict, dict]:
    found = h.evaluators.my_assignment(uow, page.session.email, proposal_id)
    return found, scoring_rules(uow, found["call_id"])


def assignment(page, uow, proposal_id: str, errors=(), status: int = 200):
    found, rules = _assignment(page, uow, proposal_id)
    return page.render("assignment.html.j2", status=status, a=found, rules=rules,
                       errors=list(errors), notice=_notice(page))


def declare_conflict(page, uow, solver, clock, proposal_id: str):
    try:
        reason = ReasonSchema().load({"reason": text(page.form, "reason").strip()})["reason"]
    except ValidationError as exc:
        return assignment(page, uow, proposal_id, errors_of(exc), status=422)
    h.evaluators.declare_conflict(uow, solver, clock, page.session.email, proposal_id, reason)
    return page.redirect("/review/?done=conflict")


def decline(page, uow, solver, clock, proposal_id: str):
    reason = DeclineSchema().load({"reason": text(page.form, "reason").strip()})["reason"]
    h.evaluators.decline(uow, solver, clock, page.session.email, proposal_id, reason)
    return page.redirect("/review/?done=declined")


# ------------------------------------------------------------------ reports
def _report_of(found: dict, kind: str) -> dict | None:
    return found.get("consensus_report") if kind == "consensus" else found.get("report")


def _form_values(report: dict | None) -> dict:
    if not report:
        return {}
    return {cid: {"score": entry["score"] or "", "comment": entry["comment"] or ""}
            for cid, entry in report["criteria"].items()}


def report_form(page, uow, proposal_id: str, form_kind: str, errors=(), values=None,
                status: int = 200):
    kind = _kind(form_kind)
    found, rules = _assignment(page, uow, proposal_id)
    if kind == "consensus" and "consensus_report" not in found:
        raise NotFound(f"you are not the rapporteur of {proposal_id}",
                       [{"field": "proposal_id", "rule": "not your consensus report"}])
    report = _report_of(found, kind)
    return page.render("report.html.j2", status=status, a=found, rules=rules, kind=kind,
                       form_kind=form_kind, report=report, errors=list(errors),
                       values=values if values is not None else _form_values(report),
                       notice=_notice(page))


def _body(page, rules: dict) -> dict:
    criteria = {}
    for criterion in rules["criteria"]:
        score = text(page.form, f"criteria.{criterion['id']}.score").strip()
        comment = text(page.form, f"criteria.{criterion['id']}.comment").strip()
        criteria[criterion["id"]] = {"score": score or None, "comment": comment or None}
    return {"criteria": criteria, "final": False}


def save_report(page, uow, clock, proposal_id: str, form_kind: str):
    kind = _kind(form_kind)
    found, rules = _assignment(page, uow, proposal_id)
    body = _body(page, rules)
    try:
        h.evaluators.save_report(uow, clock, page.session.email, proposal_id,
                                 ReportSchema().load(body), kind)
    except (ValidationError, Unprocessable) as exc:
        errors = errors_of(exc) if isinstance(exc, ValidationError) else exc.errors
        return report_form(page, uow, proposal_id, form_kind, errors, status=422,
                           values={c: {k: v or "" for k, v in e.items()}
                                   for c, e in body["criteria"].items()})
    base = f"/review/assignments/{proposal_id}/{form_kind}"
    if page.form.get("action") == "finalise":
        return page.redirect(f"{base}/finalise")
    return page.redirect(f"{base}?done=saved")


def confirm_finalise(page, uow, proposal_id: str, form_kind: str):
    kind = _kind(form_kind)
    found, rules = _assignment(page, uow, proposal_id)
    return page.render("finalise.html.j2", a=found, rules=rules, kind=kind,
                       form_kind=form_kind, report=_report_of(found, kind))


def finalise(page, uow, clock, proposal_id: str, form_kind: str):
    kind = _kind(form_kind)
    try:
        h.evaluators.finalise_report(uow, clock, page.session.email, proposal_id, kind)
    except Unprocessable as exc:  # incomplete: back to the form, each gap at its field
        return report_form(page, uow, proposal_id, form_kind, exc.errors, status=422)
    return page.redirect(f"/review/assignments/{proposal_id}?done=finalised")


# ------------------------------------------------------------------ applicants' results
def results(page, uow, proposal_id: str):
    """The outcome and the evaluation summary report, once released to applicants."""
    try:
        summary = h.views.summary(uow, page.principal, proposal_id)
    except Forbidden as exc:
        return page.render("results_pending.html.j2", status=403, proposal_id=proposal_id,
                           message=exc.message)
    rules = scoring_rules(uow, summary["call_id"])
    return page.render("results.html.j2", summary=summary, rules=rules)

