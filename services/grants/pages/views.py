"""Views of the grant pages: the API's handlers, the signed-in applicant as principal.
Only the coordinator acts (the handlers refuse anyone else with 403); signing and
declining ask for a confirmation first (a ticked box)."""
from __future__ import annotations

from marshmallow import ValidationError

from services.grants import handlers
from services.grants.handlers.pages import call_display
from services.grants.schemas import DeclineBody
from shared.pages.forms import errors_of, text
from shared.pages.i18n import N_

NOTICES = ("confirmed", "signed", "declined")


def mine(page, uow):
    files = handlers.list_grants(uow, page.now(), email=page.session.email)["grants"]
    zones = {g["call_id"]: call_display(uow, g["call_id"], page.now()) for g in files}
    return page.render("grants.html.j2", grants=files, calls=zones)


def grant(page, uow, grant_id: str, errors=(), status: int = 200):
    found = handlers.get_grant(uow, page.principal, grant_id, page.now())
    done = page.request.args.get("done", "")
    return page.render("grant.html.j2", status=status, g=found, errors=list(errors),
                       call=call_display(uow, found["call_id"], page.now()),
                       coordinator=found["coordinator_email"] == page.session.email,
                       notice=done if done in NOTICES else "")


def _confirmed(page) -> bool:
    return page.form.get("confirm") == "yes"


def _unconfirmed(page, uow, grant_id: str):
    return grant(page, uow, grant_id, status=422, errors=[
        {"field": "confirm", "rule": page.gettext(N_("tick the box to confirm"))}])


def confirm(page, uow, grant_id: str):
    if not _confirmed(page):
        return _unconfirmed(page, uow, grant_id)
    handlers.confirm_data(uow, page.principal, grant_id, page.now())
    return page.redirect(f"/apply/grants/{grant_id}?done=confirmed")


def sign(page, uow, grant_id: str):
    if not _confirmed(page):
        return _unconfirmed(page, uow, grant_id)
    handlers.sign_by_coordinator(uow, page.principal, grant_id, page.now())
    return page.redirect(f"/apply/grants/{grant_id}?done=signed")


def decline(page, uow, grant_id: str, authority_email: str):
    try:
        reason = DeclineBody().load({"reason": text(page.form, "reason")})["reason"]
    except ValidationError as exc:
        return grant(page, uow, grant_id, errors_of(exc), status=422)
    if not _confirmed(page):
        return _unconfirmed(page, uow, grant_id)
    handlers.decline(uow, page.principal, grant_id, reason, page.now(), authority_email)
    return page.redirect(f"/apply/grants/{grant_id}?done=declined")
