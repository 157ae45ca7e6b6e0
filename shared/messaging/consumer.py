"""The event-handler entrypoint every Grantflow service uses instead of nameko's own.

Why not plain ``@event_handler``: nameko acks a message whose handler raised, and the event
is gone. Here a failure is retried with backoff (through a delay queue that sends it back
to this handler's queue only) a bounded number of times; after the last try, or at once for
a :class:`PermanentFailure` or an unreadable payload, the message moves to the dead-letter
queue with the error, where operations can inspect and replay it (``grantflow dlq``).
The original message is acked only after the retry or dead letter was confirmed by the
broker; if that publish fails, it is requeued instead. Nothing is dropped silently.

Handlers receive the loaded event (a ``shared.events`` instance), not a dict. A handler
declared with ``batch_size=N`` receives a list of up to N events collected for at most
``batch_wait_ms``, so it can apply them in one transaction (``UnitOfWork.consume_batch``);
if a batch fails, each of its events is handled again on its own, so one bad event is
retried and dead-lettered alone and the others still take effect.
"""
from __future__ import annotations

import logging
import time

import eventlet
import traceback
from datetime import datetime, timezone
from functools import partial

from kombu import Connection
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import SharedExtension
from nameko.messaging import Consumer, QueueConsumer

from shared.events import Event
from shared.events.registry import load
from shared.messaging import topology as t
from shared.metrics import DEAD_LETTERED, EVENTS_CONSUMED, HANDLER_LATENCY

_log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000)


class PermanentFailure(Exception):
    """Raise from a handler when retrying cannot help (the message goes straight to the
    dead-letter queue)."""


class RetryInfrastructure(SharedExtension):
    """Declares the delay queues and the dead-letter queue once per container."""

    def setup(self):
        config = self.container.config
        self.delays_ms = tuple(int(d) for d in (config.get("EVENT_RETRY") or {}).get(
            "delays_ms", DEFAULT_RETRY_DELAYS_MS))
        self.queue_type = config.get("QUEUE_TYPE", "classic")
        self.amqp_uri = config["AMQP_URI"]
        self.publisher = Publisher(self.amqp_uri, serializer="json", use_confirms=True)
        with Connection(self.amqp_uri) as conn:
            t.declare(conn.default_channel,
                      t.infrastructure_queues(self.delays_ms, self.queue_type))

    @property
    def max_attempts(self) -> int:
        return len(self.delays_ms) + 1


class GrantflowQueueConsumer(QueueConsumer):
    """nameko's queue consumer with the prefetch taken from ``PREFETCH_COUNT`` (default:
    the worker count), so batching handlers can have more messages in hand than workers."""

    @property
    def prefetch_count(self):
        return int(self.container.config.get("PREFETCH_COUNT", self.container.max_workers))


class DomainEventHandler(EventHandler):
    infrastructure = RetryInfrastructure()
    queue_consumer = GrantflowQueueConsumer()

    def __init__(self, source_service: str, event_type: str | type[Event], batch_size: int = 1,
                 batch_wait_ms: int = 20, **kwargs):
        if isinstance(event_type, type):
            event_type = event_type.event_type()
        self.batch_size = batch_size
        self.batch_wait_ms = batch_wait_ms
        self._pending: list = []
        self._flush_timer = None
        super().__init__(source_service, event_type, reliable_delivery=True,
                         requeue_on_error=False, **kwargs)

    @property
    def consumer_name(self) -> str:
        """Identity used for idempotency records: one per handler, shared by replicas."""
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self):
        self.queue = t.consumer_queue(
            self.source_service, self.event_type, self.container.service_name,
            self.method_name, self.container.config.get("QUEUE_TYPE", "classic"))
        Consumer.setup(self)

    def handle_message(self, body, message):
        attempts = int((message.headers or {}).get(t.H_ATTEMPTS, 0))
        try:
            event = load(body)
        except Exception as exc:  # unreadable: no retry can fix the payload
            self._finish(message, body, attempts, failure=(
                f"invalid payload: {exc}", traceback.format_exc(), True))
            return
        if self.batch_size > 1:
            self._collect((event, body, message, attempts))
            return
        self._spawn([(event, body, message, attempts)], single=True)

    # ------------------------------------------------------------------ batching
    def _collect(self, item) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif self._flush_timer is None:
            self._flush_timer = eventlet.spawn_after(self.batch_wait_ms / 1000, self._flush)

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        items, self._pending = self._pending, []
        if items:
            self._spawn(items, single=False)

    def _spawn(self, items, single: bool) -> None:
        """One worker for ``items``: the handler gets an event, or a list when batching."""
        args = (items[0][0],) if single else ([item[0] for item in items],)
        handle_result = partial(self._handle_items, items, time.perf_counter())
        try:
            self.container.spawn_worker(self, args, {},
                                        context_data=self.unpack_message_headers(items[0][2]),
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            for item in items:
                self.queue_consumer.requeue_message(item[2])

    def _handle_items(self, items, started, worker_ctx, result=None, exc_info=None):
        if exc_info is not None and len(items) > 1:
            # isolate the culprit: every event of the failed batch is handled on its own
            _log.warning("%s: batch of %d failed (%s); handling them one by one",
                         self.consumer_name, len(items), exc_info[1])
            for item in items:
                self._spawn([item], single=self.batch_size == 1)
            return result, exc_info
        for event, body, message, attempts in items:
            self.handle_result(message, body, attempts, started, worker_ctx, result, exc_info)
        return result, exc_info

    def handle_result(self, message, body, attempts, started, worker_ctx,
                      result=None, exc_info=None):
        event_type = body.get("event_type", self.event_type)
        HANDLER_LATENCY.labels(self.container.service_name, event_type).observe(
            time.perf_counter() - started)
        failure = None
        if exc_info is not None:
            exc = exc_info[1]
            failure = (f"{type(exc).__name__}: {exc}",
                       "".join(traceback.format_exception(*exc_info))[-4000:],
                       isinstance(exc, PermanentFailure))
        self._finish(message, body, attempts, failure)
        return result, exc_info

    def _finish(self, message, body, attempts, failure):
        service = self.container.service_name
        event_type = body.get("event_type", self.event_type) if isinstance(body, dict) \
            else self.event_type
        if failure is None:
            EVENTS_CONSUMED.labels(service, event_type, "processed").inc()
            self.queue_consumer.ack_message(message)
            return
        error, trace, permanent = failure
        attempts += 1
        try:
            if permanent or attempts >= self.infrastructure.max_attempts:
                self._dead_letter(message, body, attempts, error, trace, event_type)
                EVENTS_CONSUMED.labels(service, event_type, "dead_lettered").inc()
                DEAD_LETTERED.labels(service, event_type).inc()
                _log.error("%s: %s dead-lettered after %d attempt(s): %s",
                           self.consumer_name, event_type, attempts, error)
            else:
                delay = self.infrastructure.delays_ms[attempts - 1]
                self._publish(body, message, t.delay_exchange(delay), self.queue.name,
                              {t.H_ATTEMPTS: attempts, t.H_ERROR: error[:1000]})
                EVENTS_CONSUMED.labels(service, event_type, "retried").inc()
                _log.warning("%s: %s failed (attempt %d), retry in %d ms: %s",
                             self.consumer_name, event_type, attempts, delay, error)
        except Exception:
            # could not hand the message on: give it back to the broker rather than lose it
            _log.exception("%s: could not retry or dead-letter; requeueing", self.consumer_name)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _dead_letter(self, message, body, attempts, error, trace, event_type):
        self._publish(body, message, t.dead_letter_exchange(), self.queue.name, {
            t.H_ATTEMPTS: attempts, t.H_QUEUE: self.queue.name, t.H_ERROR: error[:1000],
            t.H_TRACEBACK: trace, t.H_SERVICE: self.container.service_name,
            t.H_EVENT_TYPE: event_type,
            t.H_DEAD_AT: datetime.now(timezone.utc).isoformat()})

    def _publish(self, body, message, exchange, routing_key, headers):
        kept = {k: v for k, v in (message.headers or {}).items()
                if not k.startswith("x-grantflow-") and not k.startswith("x-death")}
        self.infrastructure.publisher.publish(
            body, exchange=exchange, routing_key=routing_key, headers={**kept, **headers},
            message_id=message.properties.get("message_id"), delivery_mode=2)


subscribe = DomainEventHandler.decorator
