"""Notifications: queue each message once per (event, recipient, template), then deliver.

Delivery side of the crash window (README, "Exactly-once mail"): a row is marked
``sending`` with a lease and committed *before* the SMTP transaction, and ``sent`` after
it. A crash between the server's "250 OK" and our commit leaves the row ``sending``; when
its lease expires it is sent again with the same Message-ID. We chose at-least-once on
that narrow window because a lost result letter is worse than a duplicate that the
recipient's mail system can recognise by its Message-ID.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from services.notifications.adapters.mailer import (OutgoingMail, PermanentMailError,
                                                    TransientMailError)
from services.notifications.adapters.tables import deliveries
from shared.events import Event, NotificationDelivered, NotificationFailed
from shared.failpoints import failpoint

_log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 50


def message_id(source_event_id: str, recipient: str, template: str) -> str:
    digest = hashlib.sha256(f"{source_event_id}|{recipient}|{template}".encode()).hexdigest()
    return f"<{digest[:40]}@grantflow>"


def queue(uow, event: Event, recipient: str, template: str, subject: str, body: str,
          proposal_id: str | None, wall_now: datetime) -> bool:
    """Insert a delivery unless this (event, recipient, template) already has one."""
    exists = uow.session.execute(sa.select(deliveries.c.id).where(
        deliveries.c.source_event_id == event.event_id, deliveries.c.recipient == recipient,
        deliveries.c.template == template)).first()
    if exists:
        return False
    uow.session.execute(deliveries.insert().values(
        id=str(uuid.uuid4()), source_event_id=event.event_id,
        source_event_type=event.event_type(), recipient=recipient, template=template,
        proposal_id=proposal_id, call_id=event.call_id, subject=subject, body=body,
        message_id=message_id(event.event_id, recipient, template), status="queued",
        attempts=0, next_attempt_at=wall_now, created_at=wall_now))
    return True


def _claim_due(uow, wall_now: datetime, limit: int, lease: timedelta) -> list:
    due = sa.or_(
        sa.and_(deliveries.c.status == "queued", deliveries.c.next_attempt_at <= wall_now),
        sa.and_(deliveries.c.status == "sending", deliveries.c.lease_until < wall_now))
    query = sa.select(deliveries).where(due).order_by(deliveries.c.next_attempt_at).limit(limit)
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = uow.session.execute(query).all()
    if rows:
        uow.session.execute(deliveries.update().where(deliveries.c.id.in_([r.id for r in rows]))
                            .values(status="sending", lease_until=wall_now + lease,
                                    attempts=deliveries.c.attempts + 1))
    return rows


def dispatch_due(uow, mailer, clock, limit: int = 50) -> int:
    """Send what is due; returns how many deliveries were attempted."""
    wall_now = datetime.now(timezone.utc)
    with uow:
        rows = _claim_due(uow, wall_now, limit, mailer.lease)
        uow.commit()
    for row in rows:
        _deliver(uow, mailer, clock, row)
    return len(rows)


def _deliver(uow, mailer, clock, row) -> None:
    try:
        mailer.send(OutgoingMail(row.recipient, row.subject, row.body, row.message_id))
    except TransientMailError as exc:
        _reschedule(uow, row, str(exc))
        return
    except PermanentMailError as exc:
        _finish(uow, clock, row, failed_reason=str(exc))
        return
    failpoint("notifications.after_send", row.template)
    _finish(uow, clock, row)


def _reschedule(uow, row, error: str) -> None:
    attempts = row.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        _log.error("delivery %s to %s gave up after %d attempts", row.id, row.recipient, attempts)
    backoff = min(timedelta(seconds=2 ** min(attempts, 12)) / 4, MAX_BACKOFF)
    with uow:
        uow.session.execute(deliveries.update().where(deliveries.c.id == row.id).values(
            status="queued" if attempts < MAX_ATTEMPTS else "failed", lease_until=None,
            last_error=error, next_attempt_at=datetime.now(timezone.utc) + backoff))
        uow.commit()
    _log.warning("delivery %s to %s deferred (attempt %d): %s", row.id, row.recipient,
                 attempts, error)


def _finish(uow, clock, row, failed_reason: str | None = None) -> None:
    now = clock.now()
    common = dict(call_id=row.call_id, correlation_id=row.proposal_id or row.call_id,
                  occurred_at=now, causation_id=row.source_event_id, notification_id=row.id,
                  source_event_id=row.source_event_id, source_event_type=row.source_event_type,
                  recipient=row.recipient, template=row.template, proposal_id=row.proposal_id)
    with uow:
        if failed_reason is None:
            values = dict(status="sent", sent_at=now, lease_until=None, last_error=None)
            event = NotificationDelivered(**common, message_id=row.message_id, sent_at=now)
        else:
            values = dict(status="failed", lease_until=None, last_error=failed_reason)
            event = NotificationFailed(**common, reason=failed_reason)
        uow.session.execute(deliveries.update().where(deliveries.c.id == row.id).values(**values))
        uow.add_events(event)
        uow.commit()


def list_deliveries(uow, proposal_id: str | None = None, recipient: str | None = None) -> list[dict]:
    query = sa.select(deliveries).order_by(deliveries.c.created_at)
    if proposal_id:
        query = query.where(deliveries.c.proposal_id == proposal_id)
    if recipient:
        query = query.where(deliveries.c.recipient == recipient)
    with uow:
        return [{"id": r.id, "template": r.template, "recipient": r.recipient,
                 "status": r.status, "attempts": r.attempts, "subject": r.subject,
                 "source_event_type": r.source_event_type, "proposal_id": r.proposal_id,
                 "last_error": r.last_error, "message_id": r.message_id,
                 "sent_at": r.sent_at, "created_at": r.created_at}
                for r in uow.session.execute(query)]


# ---------------------------------------------------------------- walking skeleton routes
def on_proposal_submitted(uow, event) -> int:
    """Queue a receipt to every contact of the submitted proposal."""
    subject = f"Receipt: {event.acronym} version {event.version} received"
    body = (f"Your proposal {event.acronym} ({event.proposal_id}) version {event.version} was "
            f"received at {event.received_at.isoformat()}.\nContent hash: {event.content_hash}\n")
    wall_now = datetime.now(timezone.utc)
    return sum(queue(uow, event, email, "submission_receipt", subject, body,
                     event.proposal_id, wall_now) for email in event.contact_emails)
