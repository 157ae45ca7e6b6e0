"""The delivery log's queries. A row is claimed with a lease and a claim token; only the
holder of the current token may record the outcome, so a delivery taken over after its
lease expired is reported once, by whoever sent it last. Every attempt has a row in
``delivery_attempts``, written when it starts, so an attempt cut short by the death of
its process stays visible and the next attempt is known to be a possible duplicate."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from services.notifications.adapters.tables import deliveries as d
from services.notifications.adapters.tables import delivery_attempts as a
from services.notifications.domain.delivery import (FAILED, INTERRUPTED, QUEUED, SENDING,
                                                    message_id)
from services.notifications.domain.notification import Notification
from shared.db.engine import walk_queue_in_index_order
from shared.db.inserts import (insert_ignoring, insert_ignoring_duplicates,
                               insert_ignoring_returning)


def entry(note: Notification, subject: str | None, body: str | None, now: datetime,
          wall_now: datetime, *, delivery_id: str | None = None,
          dedupe_id: str | None = None, resend_of: str | None = None,
          requested_by: str | None = None, note_text: str | None = None) -> dict:
    """The log row that queues ``note``. ``subject``/``body`` are None when rendering
    failed; the caller then ends the row."""
    delivery_id = delivery_id or note.notification_id
    return dict(
        id=delivery_id, dedupe_id=dedupe_id or note.key[0], recipient=note.recipient,
        template=note.template, role=note.role, source_event_id=note.source_event_id,
        source_event_type=note.source_event_type, proposal_id=note.proposal_id,
        call_id=note.call_id, context=dict(note.context), subject=subject, body=body,
        message_id=message_id(delivery_id), status=QUEUED, attempts=0,
        next_attempt_at=wall_now, created_at=now, resend_of=resend_of,
        requested_by=requested_by, note=note_text)


def add(session: Session, note: Notification, subject: str | None, body: str | None,
        now: datetime, wall_now: datetime, **options) -> bool:
    """Queue ``note`` unless its key is in the log already; True if queued now."""
    return insert_ignoring_duplicates(session, d, **entry(note, subject, body, now, wall_now,
                                                          **options))


def add_many(session: Session, entries: list[dict]) -> set[str]:
    """Queue every entry whose key is not in the log yet, in one statement (batched into
    multi-row INSERTs); returns the ids queued now."""
    if not entries:
        return set()
    return set(session.execute(insert_ignoring_returning(session, d.c.id), entries).scalars())


def claim_due(session: Session, wall_now: datetime, limit: int, lease: timedelta,
              token: str) -> list[Row]:
    """Take up to ``limit`` due deliveries (queued and due, or sending with an expired
    lease) for ``token``; their attempts count this try.

    Two queries, one per partial index (migration 0006), each read in the index's order:
    one query with an OR of both states is planned as a bitmap scan, which visits every
    dead index entry the sent rows left behind, at every claim."""
    walk_queue_in_index_order(session.connection())
    # leases of a process that died first (rare, and they must not wait behind a queue of
    # 100,000), then the due ones in the order they fell due
    ids = _due_ids(session, sa.select(d.c.id).where(d.c.status == SENDING,
                                                      d.c.lease_until < wall_now)
                   .order_by(d.c.lease_until), limit)
    if len(ids) < limit:
        ids += _due_ids(session, sa.select(d.c.id).where(d.c.status == QUEUED,
                                                           d.c.next_attempt_at <= wall_now)
                        .order_by(d.c.next_attempt_at, d.c.id), limit - len(ids))
    if not ids:
        return []
    session.execute(d.update().where(d.c.id.in_(ids)).values(
        status=SENDING, lease_until=wall_now + lease, claim_token=token,
        attempts=d.c.attempts + 1))
    return list(session.execute(sa.select(d).where(d.c.id.in_(ids))
                                .order_by(d.c.next_attempt_at, d.c.id)))


def _due_ids(session: Session, query, limit: int) -> list[str]:
    query = query.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


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


def reschedule(session: Session, row: Row, token: str, error: str, at: datetime,
               now: datetime) -> bool:
    """Queue ``row`` again for ``at``; the first deferral also sets ``deferred_since``."""
    return session.execute(d.update().where(_held(row, token)).values(
        status=QUEUED, lease_until=None, claim_token=None, last_error=error,
        next_attempt_at=at, deferred_since=sa.func.coalesce(d.c.deferred_since, now))
    ).rowcount == 1


def finish(session: Session, row: Row, token: str | None, **values) -> bool:
    """Record a final outcome; with a token, only if the claim is still ours."""
    where = _held(row, token) if token else (d.c.id == row.id)
    return session.execute(d.update().where(where).values(
        lease_until=None, claim_token=None, **values)).rowcount == 1


def finish_many(session: Session, rows: Iterable[Row], token: str, **values) -> set[str]:
    """Record one final outcome for many rows still claimed with ``token``, in one
    statement; the ids it recorded (the others were taken over)."""
    ids = [row.id for row in rows]
    return set(session.execute(d.update().where(
        d.c.id.in_(ids), d.c.status == SENDING, d.c.claim_token == token).values(
        lease_until=None, claim_token=None, **values).returning(d.c.id)).scalars())


def renew(connection: sa.Connection, token: str, until: datetime) -> int:
    """Extend the lease of the rows still claimed with ``token``; how many."""
    return connection.execute(d.update().where(d.c.claim_token == token,
                                               d.c.status == SENDING)
                              .values(lease_until=until)).rowcount


def backlog(session: Session, wall_now: datetime) -> dict[str, int]:
    """Messages the SMTP server has not accepted yet: ``queued`` (due now), ``sending``
    (claimed by a batch), ``deferred`` (waiting for a retry)."""
    walk_queue_in_index_order(session.connection())
    rows = session.execute(sa.select(d.c.status, d.c.next_attempt_at <= wall_now,
                                     sa.func.count()).where(d.c.status.in_((QUEUED, SENDING)))
                           .group_by(d.c.status, d.c.next_attempt_at <= wall_now))
    counts = {"queued": 0, "sending": 0, "deferred": 0}
    for status, due, number in rows:
        name = "sending" if status == SENDING else ("queued" if due else "deferred")
        counts[name] += number
    return counts


# --------------------------------------------------------------------------- attempts
def close_interrupted(session: Session, delivery_ids: list[str], at: datetime) -> set[str]:
    """Mark every attempt of these deliveries that never recorded an outcome (its process
    died mid-way) as interrupted; returns the deliveries whose latest attempt was
    interrupted, so their next attempt may send the message a second time."""
    if not delivery_ids:
        return set()
    session.execute(a.update().where(a.c.delivery_id.in_(delivery_ids),
                                     a.c.outcome.is_(None))
                    .values(outcome=INTERRUPTED, ended_at=at,
                            error="the attempt was cut short (its process stopped)"))
    latest: dict[str, tuple[int, str]] = {}
    for delivery_id, attempt, outcome in session.execute(
            sa.select(a.c.delivery_id, a.c.attempt, a.c.outcome)
            .where(a.c.delivery_id.in_(delivery_ids))):
        if attempt > latest.get(delivery_id, (-1, ""))[0]:
            latest[delivery_id] = (attempt, outcome)
    return {i for i, (_, outcome) in latest.items() if outcome == INTERRUPTED}


def start_attempts(session: Session, rows: Iterable[Row], token: str, at: datetime,
                   after_interruption: set[str]) -> None:
    """Write the attempt row of each claimed row about to be tried (outcome None); once
    (a transaction retried after its commit was lost on the way back writes nothing)."""
    values = [dict(delivery_id=row.id, attempt=row.attempts, claim_token=token,
                   started_at=at, after_interruption=row.id in after_interruption)
              for row in rows]
    if values:
        session.execute(insert_ignoring(session, a), values)


def forget_attempts(session: Session, rows: Iterable[Row]) -> None:
    """Remove the open attempt rows of claimed rows given back untried."""
    for row in rows:
        session.execute(a.delete().where(a.c.delivery_id == row.id,
                                         a.c.attempt == row.attempts, a.c.outcome.is_(None)))


def end_attempts(session: Session, rows: Iterable[Row], outcome: str, at: datetime,
                 error: str | None = None, *, token: str, started: bool = True) -> None:
    """Record the outcome of the current attempt (claimed with ``token``) of each row, in
    one statement; ``started=False`` for rows whose attempt never began (the server was
    already unreachable), which get their row here."""
    rows = list(rows)
    if not rows:
        return
    if started:
        session.execute(a.update().where(a.c.delivery_id.in_([row.id for row in rows]),
                                         a.c.claim_token == token, a.c.outcome.is_(None))
                        .values(outcome=outcome, ended_at=at, error=error))
        return
    session.execute(a.insert(), [dict(delivery_id=row.id, attempt=row.attempts,
                                      claim_token=token, started_at=at, ended_at=at,
                                      outcome=outcome, error=error, after_interruption=False)
                                 for row in rows])


def attempts_of(session: Session, delivery_id: str) -> list[Row]:
    return list(session.execute(sa.select(a).where(a.c.delivery_id == delivery_id)
                                .order_by(a.c.attempt)))


def get(session: Session, delivery_id: str) -> Row | None:
    return session.execute(sa.select(d).where(d.c.id == delivery_id)).first()


def resends(session: Session, delivery_id: str) -> list[str]:
    return list(session.execute(sa.select(d.c.id).where(d.c.resend_of == delivery_id)
                                .order_by(d.c.created_at, d.c.id)).scalars())


def search(session: Session, *, limit: int, offset: int = 0,
           after: tuple[datetime, str] | None = None, count: bool = True,
           **equal) -> tuple[list[Row], int | None]:
    """Rows whose columns equal the given non-None values, oldest first (by ``created_at``
    then ``id``), and their count (None unless ``count``). ``after``: a ``(created_at,
    id)`` position; only rows after it, found through the listing's index whatever the
    position, where an offset reads and drops every row before it."""
    where = [d.c[name] == value for name, value in equal.items() if value is not None]
    total = (session.execute(sa.select(sa.func.count()).select_from(d).where(*where)).scalar()
             if count else None)
    if after is not None:  # bound with the columns' own types (UTC on every database)
        at, delivery_id = after
        where.append(sa.tuple_(d.c.created_at, d.c.id) > sa.tuple_(
            sa.literal(at, d.c.created_at.type), sa.literal(delivery_id, d.c.id.type)))
    rows = session.execute(sa.select(d).where(*where).order_by(d.c.created_at, d.c.id)
                           .limit(limit).offset(offset))
    return list(rows), total


def for_proposals(session: Session, proposal_ids: Iterable[str], template: str) -> list[Row]:
    return list(session.execute(sa.select(d.c.proposal_id, d.c.recipient, d.c.status,
                                          d.c.id, d.c.resend_of).where(
        d.c.proposal_id.in_(sorted(set(proposal_ids))), d.c.template == template)))


def _ended_between(call_id: str, start: datetime, end: datetime):
    ended = sa.func.coalesce(d.c.sent_at, d.c.failed_at)
    return sa.and_(d.c.call_id == call_id, ended >= start, ended < end)


def sent_counts_between(session: Session, call_id: str, start: datetime,
                        end: datetime) -> dict[str, int]:
    """Per template, the deliveries of ``call_id`` sent (service clock) in [start, end):
    counted by the database, not loaded (a deadline day sends tens of thousands)."""
    return dict(session.execute(sa.select(d.c.template, sa.func.count()).where(
        _ended_between(call_id, start, end), d.c.status != FAILED).group_by(d.c.template)).all())


def failed_between(session: Session, call_id: str, start: datetime, end: datetime) -> list[Row]:
    """The deliveries of ``call_id`` that failed for good (service clock) in [start, end)."""
    return list(session.execute(sa.select(d).where(
        _ended_between(call_id, start, end), d.c.status == FAILED).order_by(d.c.created_at)))
