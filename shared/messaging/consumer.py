"""The event-handler entrypoint every Grantflow service uses instead of nameko's own.

Why not plain ``@event_handler``: nameko acks a message whose handler raised, and the event
is gone; and kombu acks and drops a body it cannot decode before nameko sees it. Here the
consumer receives raw messages and checks them itself (:mod:`shared.messaging.inbound`):
an undecodable body, an unknown event type, or an event that did not come the way its
type travels (its producer's exchange, its own type as routing key) is dead-lettered at
once with the reason. A handler's failure is retried with backoff (through a delay queue
that sends it back to this handler's queue only) a bounded number of times; after the
last try, or at once for a :class:`PermanentFailure` or a payload that does not load, the
message moves to the dead-letter queue with the error, where operations can inspect and
replay it (``grantflow dlq``). The original message is acked only after the retry or dead
letter was confirmed by the broker; if that publish fails, it is requeued instead.
Nothing is dropped silently.

Handlers receive the loaded event (a ``shared.events`` instance), not a dict. A handler
declared with ``batch_size=N`` receives a list of up to N events, so it can apply them in
one transaction (``UnitOfWork.consume_batch``); a batch that does not fill goes
``batch_wait_ms`` after its first event or ``batch_idle_ms`` after its latest, whichever
comes first (:mod:`shared.messaging.batch_window`). If a batch fails, each of its events is
handled again on its own, so one bad event is retried and dead-lettered alone and the
others still take effect. ``EVENT_BATCH`` (``size``, ``wait_ms``, ``idle_ms``) in the
service's config overrides every batching handler's numbers; ``PREFETCH_COUNT`` sets how
many messages each queue's consumer may hold (at least twice the batch size, so a batch
can fill while the previous one is applied).
"""
from __future__ import annotations

import logging
import time

import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial

from kombu import Connection, Consumer as KombuConsumer
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import ProviderCollector, SharedExtension
from nameko.messaging import Consumer, QueueConsumer, QueueConsumerStopped

from shared.events import Event
from shared.events.registry import EVENT_CLASSES, load
from shared.messaging import topology as t
from shared.messaging.batch_window import BatchWindow
from shared.messaging.inbound import Refused, check_route, decode_body, metric_label
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
        self.publisher = Publisher(self.amqp_uri, use_confirms=True)
        with Connection(self.amqp_uri) as conn:
            t.declare(conn.default_channel,
                      t.infrastructure_queues(self.delays_ms, self.queue_type))

    @property
    def max_attempts(self) -> int:
        return len(self.delays_ms) + 1


class _QueueConsumer(KombuConsumer):
    """A kombu consumer that sets its own prefetch right before it starts consuming:
    RabbitMQ applies a channel's per-consumer prefetch to the consumers started after it,
    and kombu would otherwise set every consumer's before starting any."""

    def __init__(self, *args, prefetch: int, **kwargs):
        self._prefetch = prefetch
        super().__init__(*args, **kwargs)

    def consume(self, no_ack=None):
        self.qos(prefetch_count=self._prefetch)
        super().consume(no_ack)


class _StoppedWhileAway(Exception):
    """Leaves kombu's reconnect loop when the service stops while the broker is away."""


class GrantflowQueueConsumer(QueueConsumer):
    """nameko's queue consumer, receiving raw messages (no decoding by kombu) with a
    prefetch per queue: the handler's own if it sets one, else ``PREFETCH_COUNT``
    (default: the worker count), and at least twice the batch size of a batching
    handler."""

    #: True while the consume thread (re)connects, until consuming starts again
    connecting = False

    @property
    def prefetch_count(self):
        return int(self.container.config.get("PREFETCH_COUNT", self.container.max_workers))

    # A stop while the broker is away. nameko stops an entrypoint by asking the consume
    # thread to cancel its consumer between two reads of the connection, and waits for it;
    # but that thread is then reconnecting (kombu retries for ever) and never gets there:
    # the service ignored SIGTERM until it was killed (grantflow down's timeout, a pod's
    # grace period). With no connection there is nothing to cancel (the broker has
    # requeued what the lost channel held), so the entrypoint is let go at once, and the
    # reconnecting ends once nothing consumes: kombu's run loop checks should_stop between
    # attempts, and its retry loop calls back every second while it waits for the next.
    def run(self, _tokens=1, **kwargs):
        try:
            super().run(_tokens, **kwargs)
        except _StoppedWhileAway:
            pass
        if self.connecting:
            _log.info("queue consumer stopped while the broker was away")
        if not self._consumers_ready.ready():  # it never consumed: start() ends as stopped
            self._consumers_ready.send_exception(QueueConsumerStopped())

    @contextmanager
    def establish_connection(self):
        """kombu's, with the callback it calls every second between connection attempts."""
        self.connecting = True
        self._let_go_of_pending()  # asked for while the connection was being lost
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   callback=self._unless_stopped)
            yield conn

    def _unless_stopped(self) -> None:
        if self.should_stop:
            raise _StoppedWhileAway()

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.connecting = False
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def unregister_provider(self, provider):
        if self._consumers_ready.ready() and not self.connecting:
            return super().unregister_provider(provider)
        # not consuming (nameko's own way here, for a stop before the first connection,
        # signalled "last provider gone" once per provider and failed at the second)
        self._consumers.pop(provider, None)
        ProviderCollector.unregister_provider(self, provider)
        self._stop_if_nothing_consumes()

    def stop(self):
        if self.should_stop and not self._consumers_ready.ready() and self._gt is not None:
            # stopped before it ever consumed: the thread leaves its connection attempts
            # within a second (nameko would kill it with an error that ends the container)
            self._gt.wait()
        super().stop()

    def _let_go_of_pending(self) -> None:
        pending, self._pending_remove_providers = self._pending_remove_providers, {}
        for provider, removed in pending.items():
            self._consumers.pop(provider, None)
            removed.send()  # the stop waiting for it unregisters it
        self._stop_if_nothing_consumes(released=set(pending))

    def _stop_if_nothing_consumes(self, released: set = frozenset()) -> None:
        if not self._providers - released:
            self.should_stop = True

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = _QueueConsumer(
                channel, queues=[provider.queue], on_message=provider.receive,
                on_decode_error=provider.undecodable,
                prefetch=provider.prefetch or max(self.prefetch_count, 2 * provider.batch_size))
            self._consumers[provider] = consumer
        return self._consumers.values()


class DomainEventHandler(EventHandler):
    infrastructure = RetryInfrastructure()
    queue_consumer = GrantflowQueueConsumer()

    def __init__(self, source_service: str, event_type: str | type[Event], batch_size: int = 1,
                 batch_wait_ms: int = 20, batch_idle_ms: int | None = None,
                 prefetch: int | None = None,
                 only: tuple[str, ...] = (), **kwargs):
        if isinstance(event_type, type):
            event_type = event_type.event_type()
        event_class = EVENT_CLASSES.get(event_type)
        #: the queue's bindings: ``only`` names the kinds wanted of an event routed by a
        #: payload field (``Event.routed_by``), so the others never reach this queue
        self.routing_keys = t.binding_keys(
            event_type, routed=bool(event_class and event_class.routed_by), only=tuple(only))
        self.batch_size = batch_size
        self.batch_window = BatchWindow.of(batch_wait_ms, batch_idle_ms)
        #: at most this many of the queue's messages in hand at once (None: the service's
        #: PREFETCH_COUNT). 1 for an event that carries a whole topic (a ranking, a
        #: closing's manifest): a message is held raw, decoded and loaded until handled,
        #: and every topic's arrives at once (they are published together), so what is
        #: held grows with the topic's size times the number of topics
        self.prefetch = prefetch
        self._pending: list = []
        self._first_at = self._latest_at = 0.0  # arrivals of the pending batch (monotonic)
        self._flush_thread = None
        super().__init__(source_service, event_type, reliable_delivery=True,
                         requeue_on_error=False, **kwargs)

    @property
    def consumer_name(self) -> str:
        """Identity used for idempotency records: one per handler, shared by replicas."""
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self):
        config = self.container.config
        self.queue = t.consumer_queue(
            self.source_service, self.event_type, self.container.service_name,
            self.method_name, config.get("QUEUE_TYPE", "classic"), self.routing_keys)
        batching = config.get("EVENT_BATCH") or {}
        if self.batch_size > 1:  # a handler written for lists keeps getting lists
            self.batch_size = max(2, int(batching.get("size", self.batch_size)))
            wait_ms = int(batching.get("wait_ms", self.batch_window.wait_ms))
            idle_ms = batching.get("idle_ms", self.batch_window.idle_ms)
            self.batch_window = BatchWindow.of(wait_ms, int(idle_ms))
        Consumer.setup(self)

    # ------------------------------------------------------------------ receiving
    def receive(self, message) -> None:
        """Called by the queue consumer for each raw message, in its receiving thread
        (kept short: it holds up the next delivery; the handler runs in a worker)."""
        attempts = int((message.headers or {}).get(t.H_ATTEMPTS, 0))
        body = None
        try:
            body = decode_body(message)
            check_route(body, message.delivery_info, self.source_service, self.event_type,
                        self.queue.name)
        except Refused as refused:
            self._finish(message, body, attempts, failure=(str(refused), "", True))
            return
        try:
            event = load(body)
        except Exception as exc:  # does not load: no retry can fix the payload
            self._finish(message, body, attempts, failure=(
                f"invalid payload: {exc}", traceback.format_exc()[-4000:], True))
            return
        item = (event, body, message, attempts)
        if self.batch_size > 1:
            self._collect(item)
        else:
            self._spawn_later([item], single=True)

    def undecodable(self, message, exc) -> None:
        """kombu could not even build the message (e.g. a bad compression header)."""
        attempts = int((message.headers or {}).get(t.H_ATTEMPTS, 0))
        self._finish(message, None, attempts, failure=(f"undecodable body: {exc}", "", True))

    # ------------------------------------------------------------------ batching
    def _collect(self, item) -> None:
        now = time.monotonic()
        if not self._pending:
            self._first_at = now
        self._latest_at = now
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self._spawn_later(self._take_pending(), single=False)
        elif self._flush_thread is None:
            # a managed thread named like nameko's receiving threads: the service's
            # /health counts pending events as work in hand (ContainerStats)
            self._flush_thread = self.container.spawn_managed_thread(
                self._flush_when_due, identifier=f"{self._identity}.handle_message[batch]")

    def _flush_when_due(self) -> None:
        """Sends each batch that does not fill when its window says, while events are
        pending. One such thread per handler: _collect starts it when there is none."""
        try:
            while self._pending:
                due = self.batch_window.due(self._first_at, self._latest_at)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # arrivals meanwhile move the moment, or fill the batch
                    continue
                self._spawn(self._take_pending(), single=False)
        finally:  # whatever ends it, the next event starts a new one
            self._flush_thread = None

    def _take_pending(self) -> list:
        items, self._pending = self._pending, []
        return items

    @property
    def _identity(self) -> str:
        return f"{type(self).__name__}[{self.method_name}]"

    def _spawn_later(self, items, single: bool) -> None:
        """Spawn the worker now if one is free, else from a thread of its own: waiting for
        a free worker must not hold up the queue consumer's thread."""
        if self.container._worker_pool.free() > 0:
            self._spawn(items, single)
            return
        self.container.spawn_managed_thread(
            partial(self._spawn, items, single), identifier=f"{self._identity}.handle_message")

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
                self._spawn_later([item], single=self.batch_size == 1)
            return result, exc_info
        elapsed = time.perf_counter() - started
        for event, body, message, attempts in items:
            self.handle_result(message, body, attempts, elapsed, worker_ctx, result, exc_info)
        return result, exc_info

    # ------------------------------------------------------------------ outcome
    def handle_result(self, message, body, attempts, elapsed, worker_ctx,
                      result=None, exc_info=None):
        HANDLER_LATENCY.labels(self.container.service_name,
                               metric_label(body.get("event_type"))).observe(elapsed)
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
        label = metric_label(body.get("event_type") if isinstance(body, dict) else None)
        if failure is None:
            EVENTS_CONSUMED.labels(service, label, "processed").inc()
            self.queue_consumer.ack_message(message)
            return
        error, trace, permanent = failure
        attempts += 1
        try:
            if permanent or attempts >= self.infrastructure.max_attempts:
                self._dead_letter(message, body, attempts, error, trace)
                EVENTS_CONSUMED.labels(service, label, "dead_lettered").inc()
                DEAD_LETTERED.labels(service, label).inc()
                _log.error("%s: %s dead-lettered after %d attempt(s): %s",
                           self.consumer_name, label, attempts, error[:300])
            else:
                delay = self.infrastructure.delays_ms[attempts - 1]
                self._publish(message, t.delay_exchange(delay), self.queue.name,
                              {t.H_ATTEMPTS: attempts, t.H_ERROR: error[:1000]})
                EVENTS_CONSUMED.labels(service, label, "retried").inc()
                _log.warning("%s: %s failed (attempt %d), retry in %d ms: %s",
                             self.consumer_name, label, attempts, delay, error[:300])
        except Exception:
            # could not hand the message on: give it back to the broker rather than lose it
            _log.exception("%s: could not retry or dead-letter; requeueing", self.consumer_name)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _dead_letter(self, message, body, attempts, error, trace):
        event_type = body.get("event_type") if isinstance(body, dict) else None
        self._publish(message, t.dead_letter_exchange(), self.queue.name, {
            t.H_ATTEMPTS: attempts, t.H_QUEUE: self.queue.name, t.H_ERROR: error[:1000],
            t.H_TRACEBACK: trace, t.H_SERVICE: self.container.service_name,
            t.H_EVENT_TYPE: str(event_type)[:80] if event_type is not None else "",
            t.H_DEAD_AT: datetime.now(timezone.utc).isoformat()})

    def _publish(self, message, exchange, routing_key, headers):
        """Send the message on as it came: its bytes, content type and encoding (a body
        that could not be decoded reaches the dead-letter queue unchanged)."""
        kept = {k: v for k, v in (message.headers or {}).items()
                if not k.startswith("x-grantflow-") and not k.startswith("x-death")}
        self.infrastructure.publisher.publish(
            message.body, exchange=exchange, routing_key=routing_key,
            headers={**kept, **headers}, message_id=message.properties.get("message_id"),
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary", delivery_mode=2)


subscribe = DomainEventHandler.decorator
