"""Unit of work: one transaction that holds the state change and the events it causes.

Command handlers::

    with uow:
        proposal = repo(uow).get(proposal_id)
        receipt = proposal.submit(now, deadline)
        uow.add_events(*proposal.pull_events())
        uow.commit()

Event handlers go through :meth:`UnitOfWork.consume`, which records the incoming
``event_id`` in the same transaction as the effect, so a redelivered event is a no-op.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from shared.events import Event, dump
from shared.failpoints import failpoint, fault
from shared.messaging.tables import outbox, processed_events
from shared.metrics import EVENTS_CONSUMED

_log = logging.getLogger(__name__)


class NestedCommit(RuntimeError):
    """A handler run by ``consume`` tried to commit on its own."""


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker, service_name: str,
                 on_commit: Callable[[], None] = lambda: None, consumer: str | None = None,
                 before_commit: Callable[[Session], None] | None = None):
        self._session_factory = session_factory
        #: Idempotency-Key hook (shared.idempotency): writes the request's key in the same
        #: transaction as the command's state change; None outside such a request
        self._before_commit = before_commit
        self.service_name = service_name
        self._on_commit = on_commit
        self.consumer = consumer
        self.session: Session | None = None
        self._events: list[Event] = []
        self._consuming = False
        self._depth = 0

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
            self.session.execute(outbox.insert(), [
                {"event_id": e.event_id, "event_type": e.event_type(),
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
            fault("consumer.raise", event.event_type())
            self._consuming = True
            try:
                result = handler(self, event, *args)
            finally:
                self._consuming = False
            self._commit()
        failpoint("consumer.after_commit", event.event_type())
        return result

    def consume_batch(self, events: list[Event], handler: Callable[..., object],
                      prepare: Callable[..., object] | None = None) -> int:
        """Like :meth:`consume` for many events in one transaction: events already
        processed are skipped, the others are applied in order and committed together with
        their processed-event rows. ``prepare(uow, fresh_events)`` runs first, e.g. to take
        every lock the batch needs in one fixed order. Returns how many were applied."""
        if self.consumer is None:
            raise RuntimeError("consume_batch() is for event handler workers only")
        with self:
            fresh = []
            for event in events:
                if self._claim(event):
                    fresh.append(event)
                else:
                    EVENTS_CONSUMED.labels(self.service_name, event.event_type(),
                                           "duplicate").inc()
            self._consuming = True
            try:
                if prepare is not None and fresh:
                    prepare(self, fresh)
                for event in fresh:
                    fault("consumer.raise", event.event_type())
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
        values = {"consumer": self.consumer, "event_id": event.event_id,
                  "event_type": event.event_type(),
                  "processed_at": datetime.now(timezone.utc)}
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(processed_events).values(**values).on_conflict_do_nothing()
        return self.session.execute(statement).rowcount == 1

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
