"""Unit of work: one transaction that holds the state change and the events it causes.

Command handlers::

    with uow:
        proposal = repo(uow).get(proposal_id)
        receipt = proposal.submit(now, deadline)
        uow.add_events(*proposal.pull_events())
        uow.commit()

Event handlers go through :meth:`UnitOfWork.consume`, which records the incoming
``event_id`` in the same transaction as the effect, so a redelivered event is a no-op;
:meth:`UnitOfWork.consume_batch` does the same for many events in one transaction.

``session`` is whatever the session factory makes: a :class:`~shared.db.session.CoreSession`
(a plain Core connection) in the services; the statements of the hot paths (outbox rows,
processed-event claims) are built once and run with parameters, many rows at a time.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa

from shared.db.inserts import insert_ignoring, insert_ignoring_returning
from shared.events import Event, dump
from shared.failpoints import failpoint, fault
from shared.messaging.tables import outbox, processed_events
from shared.metrics import EVENTS_CONSUMED

_log = logging.getLogger(__name__)


class NestedCommit(RuntimeError):
    """A handler run by ``consume`` tried to commit on its own."""


# built once: building a statement costs more than running it
_OUTBOX_INSERT = outbox.insert()


class UnitOfWork:
    def __init__(self, session_factory: Callable[[], object], service_name: str,
                 on_commit: Callable[[], None] = lambda: None, consumer: str | None = None,
                 before_commit: Callable[[object], None] | None = None):
        self._session_factory = session_factory
        #: Idempotency-Key hook (shared.idempotency): writes the request's key in the same
        #: transaction as the command's state change; None outside such a request
        self._before_commit = before_commit
        self.service_name = service_name
        self._on_commit = on_commit
        self.consumer = consumer
        self.session = None
        self._events: list[Event] = []
        self._consuming = False
        self._depth = 0

    def another(self) -> "UnitOfWork":
        """A separate unit of work on the same database (its own session and transaction),
        for work a worker runs beside its own (the notifications' parallel senders)."""
        return UnitOfWork(self._session_factory, self.service_name,
                          on_commit=self._on_commit, consumer=self.consumer)

    # ------------------------------------------------------------------ transaction
    def __enter__(self) -> "UnitOfWork":
        if self._depth == 0:
            self.session = self._session_factory()
            self._events = []
        self._depth += 1
        return self

    def __exit__(self, *exc_info) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                self.session.rollback()  # no-op after commit; discards anything uncommitted
            finally:
                self.session.close()
                self.session = None
                self._events = []

    def add_events(self, *events: Event) -> None:
        """Queue events to be written to the outbox in this transaction."""
        self._events.extend(events)

    def commit(self) -> None:
        if self._consuming:
            raise NestedCommit("handlers run by UnitOfWork.consume must not commit; "
                               "consume commits the effect and the event id together")
        self._commit()

    def _commit(self) -> None:
        if self._events:
            now = datetime.now(timezone.utc)
            self.session.execute(_OUTBOX_INSERT, [
                {"event_id": e.event_id, "event_type": e.event_type(),
                 "routing_key": e.routing_key(),
                 "exchange": f"{e.producer}.events", "payload": json.dumps(dump(e)),
                 "correlation_id": e.correlation_id, "created_at": now}
                for e in self._events])
        if self._before_commit is not None:
            self._before_commit(self.session)
        self.session.commit()
        wrote_events = bool(self._events)
        self._events = []
        if wrote_events:
            failpoint("producer.after_commit")
            self._on_commit()

    def rollback(self) -> None:
        self._events = []
        self.session.rollback()

    # ------------------------------------------------------------------ consuming
    def consume(self, event: Event, handler: Callable[..., object], *args):
        """Run ``handler(uow, event, *args)`` at most once per (consumer, event_id).

        Returns the handler's result, or None when the event was already processed."""
        if self.consumer is None:
            raise RuntimeError("consume() is for event handler workers only")
        with self:
            if not self._claim(event):
                EVENTS_CONSUMED.labels(self.service_name, event.event_type(), "duplicate").inc()
                _log.info("%s: %s %s already processed; skipped", self.consumer,
                          event.event_type(), event.event_id)
                return None
            fault("consumer.raise", event.event_type(), event.correlation_id)
            self._consuming = True
            try:
                result = handler(self, event, *args)
            finally:
                self._consuming = False
            self._commit()
        failpoint("consumer.after_commit", event.event_type())
        return result

    def consume_batch(self, events: list[Event], handler: Callable[..., object],
                      prepare: Callable[..., object] | None = None, *,
                      bulk: bool = False) -> int:
        """Like :meth:`consume` for many events in one transaction: events already
        processed (or repeated in the batch) are skipped, the others are applied in order
        and committed together with their processed-event rows, claimed in one statement.
        ``prepare(uow, fresh_events)`` runs first, e.g. to take every lock the batch needs
        in one fixed order. The handler gets each event, ``handler(uow, event)``, or with
        ``bulk`` the whole list at once, ``handler(uow, fresh_events)``, to apply them with
        a few statements. Returns how many were applied."""
        if self.consumer is None:
            raise RuntimeError("consume_batch() is for event handler workers only")
        with self:
            claimed = self._claim_many(events)
            fresh = []
            for event in events:
                if event.event_id in claimed:
                    claimed.discard(event.event_id)  # a repeat in the batch is a duplicate
                    fresh.append(event)
                else:
                    EVENTS_CONSUMED.labels(self.service_name, event.event_type(),
                                           "duplicate").inc()
            self._consuming = True
            try:
                if prepare is not None and fresh:
                    prepare(self, fresh)
                for event in fresh:
                    fault("consumer.raise", event.event_type(), event.correlation_id)
                if bulk:
                    if fresh:
                        handler(self, fresh)
                else:
                    for event in fresh:
                        handler(self, event)
            finally:
                self._consuming = False
            self._commit()
        for event in fresh:
            failpoint("consumer.after_commit", event.event_type())
        return len(fresh)

    def _claim(self, event: Event) -> bool:
        """Insert the processed-event row first: on PostgreSQL a concurrent duplicate
        waits here for the first transaction and then finds the row."""
        return self.session.execute(insert_ignoring(self.session, processed_events),
                                    self._claim_row(event)).rowcount == 1

    def _claim_many(self, events: list[Event]) -> set[str]:
        """Claim every event of a batch in one statement; returns the event ids that were
        not processed before. Rows go in event-id order, so two batches sharing events
        wait for each other instead of deadlocking."""
        rows = sorted({e.event_id: self._claim_row(e) for e in events}.values(),
                      key=lambda row: row["event_id"])
        if not rows:
            return set()
        return set(self.session.execute(
            insert_ignoring_returning(self.session, processed_events.c.event_id),
            rows).scalars())

    def _claim_row(self, event: Event) -> dict:
        return {"consumer": self.consumer, "event_id": event.event_id,
                "event_type": event.event_type(), "processed_at": datetime.now(timezone.utc)}

    def outbox_backlog(self) -> int:
        """Events committed but not yet confirmed by the broker."""
        with self:
            return self.session.execute(sa.select(sa.func.count()).select_from(outbox)
                                        .where(outbox.c.sent_at.is_(None))).scalar()

    def already_processed(self, event_id: str) -> bool:
        with self:
            return self.session.execute(
                sa.select(sa.func.count()).select_from(processed_events).where(
                    processed_events.c.consumer == self.consumer,
                    processed_events.c.event_id == event_id)).scalar() > 0
