"""The HTTP API's reads, and the resend command.

Visibility: operations see every delivery; an applicant or evaluator sees only the
deliveries addressed to their own email (anything else is "not found", never "forbidden",
so ids of other people's messages reveal nothing).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters import store
from services.notifications.handlers.delivery import rendered, wall_now
from services.notifications.domain.delivery import FINAL, resend_dedupe_id
from services.notifications.domain.letters import letter_outcome, pending_reason
from services.notifications.domain.notification import RESULT_LETTER, Notification
from shared.auth import Principal
from shared.documents import text_letter_pdf
from shared.web import Conflict, Forbidden, NotFound, field_error

SUMMARY = ("id", "template", "recipient", "role", "status", "attempts", "subject",
           "source_event_id", "source_event_type", "call_id", "proposal_id", "last_error",
           "message_id", "created_at", "sent_at", "failed_at", "resend_of", "requested_by")


def summary(row) -> dict:
    return {name: getattr(row, name) for name in SUMMARY}


ATTEMPT = ("attempt", "claim_token", "started_at", "ended_at", "outcome", "error",
           "after_interruption")


def detail(row, resends: list[str], attempt_log=()) -> dict:
    """A delivery with its text, its resends and every attempt (an attempt with
    ``after_interruption`` may have delivered the message a second time)."""
    return {**summary(row), "body": row.body, "context": row.context, "note": row.note,
            "resends": resends, "next_attempt_at": row.next_attempt_at,
            "deferred_since": row.deferred_since,
            "attempt_log": [{name: getattr(a, name) for name in ATTEMPT}
                            for a in attempt_log]}


def delivery_health(uow, mailer) -> dict:
    """For ``/health``: messages the SMTP server has not accepted yet (due now, being
    sent, waiting for a retry) and whether the server answers."""
    with uow:
        return {"deliveries": log.backlog(uow.session, wall_now()),
                "smtp": mailer.state.as_dict()}


def list_notifications(uow, principal: Principal, query: dict) -> dict:
    """Deliveries matching ``query`` (proposal_id, recipient, status, template, call_id,
    limit, offset or after), oldest first. Applicants and evaluators list only their own.

    ``after`` (a delivery's id) pages by position: the next page starts after that
    delivery, read through the listing's index, and ``has_more`` says whether there is
    one. ``total`` is counted on a page without ``after`` only (None with it): a count reads
    every matching row, so counting on every page would read the log again per page."""
    query = dict(query)
    recipient = query.pop("recipient", None)
    recipient = recipient.strip().lower() if recipient else None
    if not principal.is_operations:
        if recipient not in (None, principal.email):
            raise Forbidden("applicants and evaluators may list only their own notifications",
                            errors=[{"field": "recipient",
                                     "rule": "must be your own address or omitted"}])
        recipient = principal.email
    limit, offset, after = query.pop("limit"), query.pop("offset"), query.pop("after", None)
    with uow:
        cursor = None if after is None else _position(uow, principal, str(after))
        rows, total = log.search(uow.session, limit=limit + 1, offset=offset, after=cursor,
                                 count=after is None, recipient=recipient, **query)
        return {"items": [summary(row) for row in rows[:limit]], "total": total,
                "limit": limit, "offset": offset, "has_more": len(rows) > limit}


def _position(uow, principal: Principal, delivery_id: str) -> tuple:
    """The listing position of a delivery the principal may see (422 otherwise, the same
    for one that does not exist and one of someone else's, as :func:`_visible` decides)."""
    try:
        row = _visible(uow, principal, delivery_id)
    except NotFound:
        raise field_error("after", "not a delivery you can list") from None
    return row.created_at, row.id


def _visible(uow, principal: Principal, delivery_id: str):
    row = log.get(uow.session, delivery_id)
    if row is None or not (principal.is_operations or row.recipient == principal.email):
        raise NotFound(f"no notification {delivery_id}",
                       errors=[{"field": "notification_id", "rule": "unknown notification"}])
    return row


def get_notification(uow, principal: Principal, delivery_id: str) -> dict:
    with uow:
        row = _visible(uow, principal, delivery_id)
        return detail(row, log.resends(uow.session, row.id),
                      log.attempts_of(uow.session, row.id))


def letter_pdf(uow, principal: Principal, delivery_id: str, sender: str) -> bytes:
    """The message as a printable PDF (meant for result letters): the text that was
    mailed, on A4, for the recipient or operations."""
    with uow:
        row = _visible(uow, principal, delivery_id)
    if row.subject is None:
        raise Conflict(f"notification {row.id} was never rendered: {row.last_error}",
                       errors=[{"field": "notification_id", "rule": "has no text"}])
    return text_letter_pdf(row.subject, row.body, sender, row.recipient, row.message_id)


def resend(uow, principal: Principal, delivery_id: str, reason: str | None,
           now: datetime) -> dict:
    """Queue a new delivery of the same message (same subject and body, a new id and
    Message-ID, ``resend_of`` naming the original). Only once the original is sent or
    failed: while it is still on its way a resend would be a silent duplicate."""
    with uow:
        row = _visible(uow, principal, delivery_id)
        if row.status not in FINAL:
            raise Conflict(f"notification {row.id} is still {row.status}; resend it once it "
                           "is sent or failed",
                           errors=[{"field": "status", "rule": "must be sent or failed"}])
        note = Notification(recipient=row.recipient, role=row.role, template=row.template,
                            context=row.context, source_event_id=row.source_event_id,
                            source_event_type=row.source_event_type, call_id=row.call_id,
                            proposal_id=row.proposal_id)
        subject, body = row.subject, row.body
        if subject is None:  # the original never rendered: try the (perhaps fixed) template
            subject, body, error = rendered(note)
            if error:
                raise Conflict(f"notification {row.id} still cannot be rendered: {error}",
                               errors=[{"field": "template", "rule": error}])
        new_id = str(uuid.uuid4())
        log.add(uow.session, note, subject, body, now, wall_now(), delivery_id=new_id,
                dedupe_id=resend_dedupe_id(row.id, new_id), resend_of=row.id,
                requested_by=principal.email, note_text=reason)
        uow.commit()
        return detail(log.get(uow.session, new_id), [])


def letters_of_call(uow, call_id: str) -> dict:
    """Each proposal's result letter as operations follow it: the outcome the facts call
    for, why none can go yet, and its deliveries."""
    with uow:
        if store.load_call(uow.session, call_id) is None:
            raise NotFound(f"no call {call_id}",
                           errors=[{"field": "call_id", "rule": "unknown call"}])
        facts = store.load_facts(uow.session, call_id=call_id)
        sent = {}
        for row in log.for_proposals(uow.session, facts, RESULT_LETTER):
            sent.setdefault(row.proposal_id, []).append(
                {"id": row.id, "recipient": row.recipient, "status": row.status,
                 "resend_of": row.resend_of})
        released = store.released(uow.session, call_id)
        waiting = None if released else "the information-to-applicants milestone"
        return {"call_id": call_id, "released": released,
                "proposals": [{"proposal_id": f.proposal_id, "acronym": f.acronym,
                               "outcome": letter_outcome(f), "withdrawn": f.withdrawn,
                               "pending": pending_reason(f) or (
                                   waiting if letter_outcome(f) else None),
                               "deliveries": sent.get(f.proposal_id, [])}
                              for _, f in sorted(facts.items())]}
