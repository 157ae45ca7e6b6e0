"""The outbox relay: publishes committed events, marks them sent only once confirmed.

Crash analysis (each point is covered by a test with a failpoint):
- before the state change commits: nothing happened, nothing to publish;
- after commit, before publish (``relay.before_publish``): the rows are still unsent and
  the next relay (after restart, or another replica) publishes them;
- after publish, before marking sent (``relay.after_publish``): the rows are published
  again; consumers are idempotent by ``event_id`` so the second copy has no effect.

With several replicas on PostgreSQL each relay claims rows with ``FOR UPDATE SKIP LOCKED``
so they share the backlog without publishing the same row twice in the normal case.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from shared.db.engine import walk_queue_in_index_order
from shared.failpoints import failpoint
from shared.messaging.broker import ConfirmingPublisher, OutgoingMessage
from shared.messaging.tables import outbox
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

_log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, engine: sa.Engine, amqp_uri: str, service_name: str,
                 batch_size: int = 500, poll_interval: float = 0.5,
                 retention: timedelta = timedelta(days=7), linger: float = 0.005):
        self.engine = engine
        self.service_name = service_name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        #: after a wake-up, wait this long for more commits: under a burst of commands the
        #: relay then publishes (and confirms, and marks sent) tens of rows per round trip
        #: instead of one or two, for a few milliseconds of latency
        self.linger = linger
        self.retention = retention
        self.publisher = ConfirmingPublisher(amqp_uri)
        self._wake = threading.Event()  # green under eventlet's monkey patch
        self._running = False
        self._stopped = threading.Event()
        self._last_gauge = 0.0
        self._last_purge = 0.0

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out without waiting."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._running = False
        self._wake.set()
        self._stopped.wait(timeout)
        self.publisher.close()

    def run_forever(self) -> None:
        self._running = True
        self._stopped.clear()
        backoff = 0.5
        try:
            while self._running:
                if self._wake.wait(self.poll_interval) and self.linger:
                    time.sleep(self.linger)
                self._wake.clear()
                try:
                    while self._running and self.relay_once() == self.batch_size:
                        pass
                    self._housekeeping()
                    backoff = 0.5
                except Exception:
                    _log.exception("outbox relay of %s failed; retrying in %.1fs",
                                   self.service_name, backoff)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 30)
        finally:
            self._stopped.set()

    def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        with self.engine.begin() as conn:
            walk_queue_in_index_order(conn)
            query = (sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type,
                               outbox.c.routing_key, outbox.c.exchange, outbox.c.payload,
                               outbox.c.correlation_id)
                     .where(outbox.c.sent_at.is_(None))
                     .order_by(outbox.c.id).limit(self.batch_size))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return 0
            failpoint("relay.before_publish", rows[0].event_type)
            self.publisher.publish_batch([
                OutgoingMessage(exchange=row.exchange,
                                routing_key=row.routing_key or row.event_type,
                                body=row.payload, message_id=row.event_id,
                                headers={"grantflow.correlation_id": row.correlation_id})
                for row in rows])
            failpoint("relay.after_publish", rows[0].event_type)
            conn.execute(outbox.update().where(outbox.c.id.in_([row.id for row in rows]))
                         .values(sent_at=datetime.now(timezone.utc)))
        for row in rows:
            EVENTS_PUBLISHED.labels(self.service_name, row.event_type).inc()
        return len(rows)

    def backlog(self) -> tuple[int, datetime | None]:
        with self.engine.connect() as conn:
            walk_queue_in_index_order(conn)
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.sent_at.is_(None))).one()
        if oldest is not None and oldest.tzinfo is None:  # SQLite aggregate bypasses the type
            oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=timezone.utc)
        return count, oldest

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_gauge >= 1.0:
            self._last_gauge = now
            count, oldest = self.backlog()
            OUTBOX_BACKLOG.labels(self.service_name).set(count)
            age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0
            OUTBOX_OLDEST_AGE.labels(self.service_name).set(age)
        if now - self._last_purge >= 3600:
            self._last_purge = now
            cutoff = datetime.now(timezone.utc) - self.retention
            with self.engine.begin() as conn:
                conn.execute(outbox.delete().where(outbox.c.sent_at < cutoff))
