"""The delivery log's queries. A row is claimed with a lease and a claim token; only the
holder of the current token may record the outcome, so a delivery taken over after its
lease expired is reported once, by whoever sent it last."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from services.notifications.adapters.store import insert_new
from services.notifications.adapters.tables import deliveries as d
from services.notifications.domain.delivery import QUEUED, SENDING, message_id
from services.notifications.domain.notification import Notification


def add(session: Session, note: Notification, subject: str | None, body: str | None,
        now: datetime, wall_now: datetime, *, delivery_id: str | None = None,
        dedupe_id: str | None = None, resend_of: str | None = None,
        requested_by: str | None = None, note_text: str | None = None) -> bool:
    """Queue ``note`` unless its key is in the log already; True if queued now.

    ``subject``/``body`` are None when rendering failed; the caller then ends the row."""
    delivery_id = delivery_id or note.notification_id
    return insert_new(session, d, dict(
        id=delivery_id, dedupe_id=dedupe_id or note.key[0], recipient=note.recipient,
        template=note.template, role=note.role, source_event_id=note.source_event_id,
        source_event_type=note.source_event_type, proposal_id=note.proposal_id,
        call_id=note.call_id, context=dict(note.context), subject=subject, body=body,
        message_id=message_id(delivery_id), status=QUEUED, attempts=0,
        next_attempt_at=wall_now, created_at=now, resend_of=resend_of,
        requested_by=requested_by, note=note_text))


def claim_due(session: Session, wall_now: datetime, limit: int, lease: timedelta,
              token: str) -> list[Row]:
    """Take up to ``limit`` due deliveries (queued and due, or sending with an expired
    lease) for ``token``; their attempts count this try."""
    due = sa.or_(sa.and_(d.c.status == QUEUED, d.c.next_attempt_at <= wall_now),
                 sa.and_(d.c.status == SENDING, d.c.lease_until < wall_now))
    query = sa.select(d.c.id).where(due).order_by(d.c.next_attempt_at, d.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    session.execute(d.update().where(d.c.id.in_(ids)).values(
        status=SENDING, lease_until=wall_now + lease, claim_token=token,
        attempts=d.c.attempts + 1))
    return list(session.execute(sa.select(d).where(d.c.id.in_(ids))
                                .order_by(d.c.next_attempt_at, d.c.id)))


def _held(row: Row, token: str):
    return sa.and_(d.c.id == row.id, d.c.status == SENDING, d.c.claim_token == token)


def give_back(session: Session, rows: Iterable[Row], token: str, at: datetime) -> None:
    """Return claimed rows that were not tried: queued again for ``at``, the try uncounted."""
    ids = [row.id for row in rows]
    if ids:
        session.execute(d.update().where(d.c.id.in_(ids), d.c.status == SENDING,
                                         d.c.claim_token == token).values(
            status=QUEUED, lease_until=None, claim_token=None, next_attempt_at=at,
            attempts=d.c.attempts - 1))


def reschedule(session: Session, row: Row, token: str, error: str, at: datetime) -> bool:
    return session.execute(d.update().where(_held(row, token)).values(
        status=QUEUED, lease_until=None, claim_token=None, last_error=error,
        next_attempt_at=at)).rowcount == 1


def finish(session: Session, row: Row, token: str | None, **values) -> bool:
    """Record a final outcome; with a token, only if the claim is still ours."""
    where = _held(row, token) if token else (d.c.id == row.id)
    return session.execute(d.update().where(where).values(
        lease_until=None, claim_token=None, **values)).rowcount == 1


def get(session: Session, delivery_id: str) -> Row | None:
    return session.execute(sa.select(d).where(d.c.id == delivery_id)).first()


def resends(session: Session, delivery_id: str) -> list[str]:
    return list(session.execute(sa.select(d.c.id).where(d.c.resend_of == delivery_id)
                                .order_by(d.c.created_at, d.c.id)).scalars())


def search(session: Session, *, limit: int, offset: int = 0, **equal) -> tuple[list[Row], int]:
    """Rows whose columns equal the given non-None values, oldest first, and their count."""
    where = [d.c[name] == value for name, value in equal.items() if value is not None]
    total = session.execute(sa.select(sa.func.count()).select_from(d).where(*where)).scalar()
    rows = session.execute(sa.select(d).where(*where).order_by(d.c.created_at, d.c.id)
                           .limit(limit).offset(offset))
    return list(rows), total


def for_proposals(session: Session, proposal_ids: Iterable[str], template: str) -> list[Row]:
    return list(session.execute(sa.select(d.c.proposal_id, d.c.recipient, d.c.status,
                                          d.c.id, d.c.resend_of).where(
        d.c.proposal_id.in_(sorted(set(proposal_ids))), d.c.template == template)))


def outcomes_between(session: Session, call_id: str, start: datetime, end: datetime) -> list[Row]:
    """Deliveries of ``call_id`` sent or failed (service clock) in [start, end)."""
    return list(session.execute(sa.select(d).where(d.c.call_id == call_id, sa.or_(
        sa.and_(d.c.sent_at >= start, d.c.sent_at < end),
        sa.and_(d.c.failed_at >= start, d.c.failed_at < end))).order_by(d.c.created_at)))
