"""Views of the applicants' pages: each reads the form, calls the handler the JSON API
calls (the signed-in applicant is the principal), and renders or redirects. A refused
form is shown again with each error at its field; other refusals (a deadline passed,
a proposal that is not yours) are error pages with the API's message."""
from __future__ import annotations

from marshmallow import ValidationError

from services.submission import handlers
from services.submission.handlers.call_views import call_choices
from services.submission.handlers.evaluators import assigned_part
from services.submission.handlers.precheck import precheck
from services.submission.httpio import download
from services.submission.pages.forms import (BLANK_ROWS, body_from_form, form_errors,
                                             form_from_proposal)
from services.submission.schemas import (ProposalCreateSchema, ProposalPatchSchema,
                                         WithdrawSchema)
from shared.pages.forms import errors_of, text
from shared.pages.i18n import N_
from shared.pages.route import PageError
from shared.web import Unprocessable

EDITABLE = ("draft", "submitted")
NOTICES = ("created", "saved", "uploaded", "removed", "withdrawn")


def _notice(page) -> str:
    done = page.request.args.get("done", "")
    return done if done in NOTICES else ""


def _refused(exc) -> list[dict]:
    """Field errors of a schema or a handler (422), in the API's form."""
    if isinstance(exc, ValidationError):
        return errors_of(exc)
    return exc.errors if isinstance(exc.errors, list) else [{"field": "_body",
                                                            "rule": exc.message}]


# ------------------------------------------------------------------ home
def home(page, uow):
    mine = handlers.listing(uow, page.principal, limit=1000)
    calls = [call_choices(uow, c["id"], page.now()) for c in handlers.list_calls(uow)]
    return page.render("home.html.j2", proposals=mine, calls=calls,
                       notice=_notice(page))


# ------------------------------------------------------------------ a new draft
def new_form(page, uow, call_id: str):
    call = call_choices(uow, call_id, page.now())
    topic = page.request.args.get("topic_id", "")
    me = {"contact_email": page.session.email}
    return page.render("proposal_form.html.j2", call=call, topic_id=topic, errors=[],
                       form={"coordinator": me, "co_applicants": [], "integration_areas": []},
                       rows=BLANK_ROWS)


def create(page, uow, call_id: str, part_limit: int):
    call = call_choices(uow, call_id, page.now())
    body, row_of = body_from_form(page.form)
    body.update(call_id=call_id, topic_id=text(page.form, "topic_id"))
    try:
        created = handlers.create(uow, page.principal, ProposalCreateSchema().load(body),
                                  page.now(), part_limit)
    except (ValidationError, Unprocessable) as exc:
        return page.render("proposal_form.html.j2", status=422, call=call,
                           topic_id=body["topic_id"], form=body,
                           errors=form_errors(_refused(exc), row_of),
                           rows=len(body["co_applicants"]) + BLANK_ROWS)
    return page.redirect(f"/apply/proposals/{created['id']}?done=created")


# ------------------------------------------------------------------ a proposal
def _proposal_page(page, uow, proposal: dict, *, form=None, errors=(), status=200):
    call = call_choices(uow, proposal["call_id"], page.now())
    check = precheck(uow, page.principal, proposal["id"], page.now()) \
        if proposal["state"] in EDITABLE and call["open"] else None
    form = form or form_from_proposal(proposal)
    return page.render("proposal.html.j2", status=status, proposal=proposal, call=call,
                       check=check, form=form, errors=list(errors),
                       rows=len(form["co_applicants"]) + BLANK_ROWS,
                       notice=_notice(page), editable=proposal["state"] in EDITABLE
                       and call["open"], parts={p["name"]: p for p in proposal["parts"]})


def proposal(page, uow, proposal_id: str):
    return _proposal_page(page, uow, handlers.get(uow, page.principal, proposal_id))


def save(page, uow, proposal_id: str, part_limit: int):
    body, row_of = body_from_form(page.form)
    try:
        handlers.update(uow, page.principal, proposal_id, ProposalPatchSchema().load(body),
                        page.now(), part_limit)
    except (ValidationError, Unprocessable) as exc:
        current = handlers.get(uow, page.principal, proposal_id)
        return _proposal_page(page, uow, current, form=body, status=422,
                              errors=form_errors(_refused(exc), row_of))
    return page.redirect(f"/apply/proposals/{proposal_id}?done=saved")


def upload(page, uow, proposal_id: str, name: str, part_limit: int):
    sent = page.request.files.get("file")
    if sent is None or not sent.filename:
        current = handlers.get(uow, page.principal, proposal_id)
        return _proposal_page(page, uow, current, status=422, errors=[
            {"field": f"file-{name}", "rule": page.gettext(N_("choose a file to upload"))}])
    data = sent.stream.read(part_limit + 1)
    if len(data) > part_limit:
        raise handlers.proposals.too_large(f"file-{name}", part_limit)
    handlers.put_part(uow, page.principal, proposal_id, name, data, sent.filename[:255],
                      page.now())
    return page.redirect(f"/apply/proposals/{proposal_id}?done=uploaded")


def remove_part(page, uow, proposal_id: str, name: str):
    handlers.remove_part(uow, page.principal, proposal_id, name, page.now())
    return page.redirect(f"/apply/proposals/{proposal_id}?done=removed")


def part(page, uow, proposal_id: str, name: str):
    version = page.request.args.get("version", "")
    number = int(version) if version.isdigit() and 0 < int(version) < 1_000_000 else None
    return download(*handlers.part_content(uow, page.principal, proposal_id, name, number))


def submit(page, uow, proposal_id: str, clock):
    receipt = handlers.submit(uow, page.principal, proposal_id, clock)
    return page.redirect(f"/apply/proposals/{proposal_id}/versions/{receipt['version']}"
                         "?done=submitted")


def version(page, uow, proposal_id: str, number: int):
    found = handlers.version(uow, page.principal, proposal_id, number)
    current = handlers.get(uow, page.principal, proposal_id)
    call = call_choices(uow, current["call_id"], page.now())
    return page.render("version.html.j2", version=found, call=call,
                       submitted=page.request.args.get("done") == "submitted")


def withdraw(page, uow, proposal_id: str):
    if page.form.get("confirm") != "yes":
        current = handlers.get(uow, page.principal, proposal_id)
        return _proposal_page(page, uow, current, status=422, errors=[
            {"field": "confirm",
             "rule": page.gettext(N_("tick the box to confirm: a withdrawal is final"))}])
    try:
        reason = WithdrawSchema().load({"reason": text(page.form, "reason")})["reason"]
    except ValidationError as exc:
        current = handlers.get(uow, page.principal, proposal_id)
        return _proposal_page(page, uow, current, status=422, errors=errors_of(exc))
    handlers.withdraw(uow, page.principal, proposal_id, reason, page.now())
    return page.redirect(f"/apply/proposals/{proposal_id}?done=withdrawn")


# ------------------------------------------------------------------ evaluators
def assigned_part_download(page, uow, proposal_id: str, name: str):
    """A part of a proposal, for the evaluators' pages (audience ``review``)."""
    if not name or len(name) > 80:
        raise PageError(404, "not_found")
    return download(*assigned_part(uow, page.session.email, proposal_id, name))
