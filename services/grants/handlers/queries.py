"""Read side: what a coordinator, a contact or the granting authority sees of a file.

Access: operations read everything; an applicant reads the files on which their address
is the coordinator's, a proposal contact's or a beneficiary's contact
(``GrantFile.readers``); any other file is "not found" (404), never "forbidden", so ids
reveal nothing.
"""
from __future__ import annotations

from datetime import datetime

from services.grants.domain.grant import GrantFile, State
from services.grants.handlers.flow import repository
from shared.auth import Principal
from shared.web import NotFound

_NEXT_STEP = {
    State.INVITED: ("coordinator", "confirm", "confirm the grant data", "preparation_deadline"),
    State.DATA_CONFIRMED: ("coordinator", "sign", "sign the grant agreement",
                           "signature_deadline"),
    State.COORDINATOR_SIGNED: ("authority", "authority-sign",
                               "countersign the grant agreement", None),
}


def may_read(grant: GrantFile, principal: Principal) -> bool:
    return principal.is_operations or principal.email in grant.readers


def not_found(grant_id: str) -> NotFound:
    return NotFound(f"no grant file {grant_id}",
                    errors=[{"field": "grant_id", "rule": "unknown, or not one of yours"}])


def grant_view(grant: GrantFile, decline_note: str | None = None) -> dict:
    """The JSON form of a file; ``next_step`` says who acts next, how and by when."""
    step = _NEXT_STEP.get(grant.state)
    next_step = None
    if step is not None:
        party, action, what, deadline = step
        next_step = {"party": party, "action": action, "description": what,
                     "path": f"/grants/{grant.grant_id}/{action}",
                     "due_at": getattr(grant, deadline) if deadline else None}
    return {
        "grant_id": grant.grant_id, "proposal_id": grant.proposal_id,
        "call_id": grant.call_id, "topic_id": grant.topic_id, "acronym": grant.acronym,
        "rank": grant.rank, "state": grant.state.value,
        "promoted_from_reserve": grant.promoted_from_reserve,
        "requested_grant": grant.requested_grant,
        "total_eligible_costs": grant.total_eligible_costs, "max_grant": grant.max_grant,
        "prefinancing_rate": grant.prefinancing_rate,
        "duration_months": grant.duration_months, "start_date": grant.start_date,
        "beneficiaries": [vars(b) for b in grant.beneficiaries],
        "coordinator_email": grant.coordinator_email,
        "contact_emails": list(grant.contact_emails),
        "authority_email": grant.authority_email,
        "invited_at": grant.invited_at,
        "preparation_deadline": grant.preparation_deadline,
        "signature_deadline": grant.signature_deadline,
        "data_confirmed_at": grant.data_confirmed_at,
        "coordinator_signed_at": grant.coordinator_signed_at,
        "authority_signed_at": grant.authority_signed_at,
        "ended_at": grant.ended_at, "end_reason": grant.end_reason,
        "decline_note": decline_note, "next_step": next_step,
        "payment_orders": [payment_view(o) for o in grant.payment_orders],
    }


def payment_view(order) -> dict:
    return {"grant_id": order.grant_id, "kind": order.kind, "amount": order.amount,
            "ordered_at": order.ordered_at}


def get_grant(uow, principal: Principal, grant_id: str, now: datetime) -> dict:
    with uow:
        repo = repository(uow, now)
        grant = repo.grant(grant_id)
        if grant is None or not may_read(grant, principal):
            raise not_found(grant_id)
        return grant_view(grant, repo.decline_note(grant_id))


def list_grants(uow, now: datetime, *, email: str | None = None, **filters) -> dict:
    """Files matching ``filters`` (call_id, topic_id, state); ``email`` limits them to
    those the address is a contact of."""
    with uow:
        repo = repository(uow, now)
        rows = repo.grant_rows(email=email, **filters)
        return {"grants": [grant_view(repo.grant_from_row(r), r.decline_note) for r in rows]}


def payments(uow, grant_id: str, now: datetime) -> dict:
    with uow:
        grant = repository(uow, now).grant(grant_id)
        if grant is None:
            raise not_found(grant_id)
        return {"grant_id": grant_id, "state": grant.state.value,
                "payment_orders": [payment_view(o) for o in grant.payment_orders]}
