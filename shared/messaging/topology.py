"""Names and declarations of everything Grantflow puts on RabbitMQ.

- ``<producer>.events``: topic exchange per producing service (nameko's convention); the
  routing key is the event type, qualified by one payload field for an event that names
  one (``Event.routed_by``: ``notification_delivered.result_letter``), so a consumer may
  bind to one kind of it (:func:`binding_keys`).
- one durable queue per (consumer service, handler method), named as nameko names it:
  ``evt-<producer>-<event_type>--<service>.<method>``; competing replicas share it.
- ``grantflow.retry.<ms>ms`` -> ``grantflow.delay.<ms>ms``: topic exchange (every routing
  key bound) and queue per retry delay. Its messages expire after the delay and are
  dead-lettered to ``grantflow.requeue`` with their routing key, which is the name of the
  consumer queue they came from: a retry goes back to the one handler that failed, not to
  every subscriber. A topic exchange, so that a broker user may be limited to its own
  queues' names as routing keys (shared/messaging/permissions.py).
- ``grantflow.requeue``: direct exchange; each consumer queue is bound with its own name.
- ``grantflow.dead-letter`` -> ``grantflow.dead-letters``: where a message lands after its
  last try, with the error in its headers, until operations replay it.
"""
from __future__ import annotations

from kombu import Exchange, Queue, binding

from shared.events.base import qualified_key

REQUEUE_EXCHANGE = "grantflow.requeue"
DEAD_LETTER_EXCHANGE = "grantflow.dead-letter"
DEAD_LETTER_QUEUE = "grantflow.dead-letters"
#: held (exclusively) by whoever reads the dead-letter queue: listings and replays take turns
DEAD_LETTER_TURN_QUEUE = "grantflow.dead-letters.turn"
ALL_EVENTS = "*"  # subscribe to every event of a producer (routing key '#')

# headers carried by retried and dead-lettered messages
H_ATTEMPTS = "x-grantflow-attempts"
H_QUEUE = "x-grantflow-queue"
H_ERROR = "x-grantflow-error"
H_TRACEBACK = "x-grantflow-traceback"
H_SERVICE = "x-grantflow-service"
H_EVENT_TYPE = "x-grantflow-event-type"
H_DEAD_AT = "x-grantflow-dead-lettered-at"
H_REPLAYED = "x-grantflow-replayed"


def _queue_arguments(queue_type: str) -> dict:
    return {"x-queue-type": queue_type} if queue_type != "classic" else {}


def event_exchange(producer: str) -> Exchange:
    return Exchange(f"{producer}.events", type="topic", durable=True, delivery_mode=2)


def requeue_exchange() -> Exchange:
    return Exchange(REQUEUE_EXCHANGE, type="direct", durable=True, delivery_mode=2)


def consumer_queue_name(producer: str, event_type: str, service: str, method: str) -> str:
    kind = "all" if event_type == ALL_EVENTS else event_type
    return f"evt-{producer}-{kind}--{service}.{method}"


def binding_keys(event_type: str, routed: bool = False, only: tuple[str, ...] = ()
                 ) -> list[str]:
    """The routing keys a consumer queue of ``event_type`` binds: ``routed`` when the
    type's keys are qualified (``<type>.<word>``), ``only`` the words it wants (all if
    empty)."""
    if event_type == ALL_EVENTS:
        return ["#"]
    if only and not routed:
        raise ValueError(f"{event_type} is routed by its type alone: it has no kinds to "
                         f"subscribe to only some of")
    if not routed:
        return [event_type]
    unnamed = [word for word in only
               if qualified_key(event_type, word) != f"{event_type}.{word}"]
    if unnamed:
        raise ValueError(f"{event_type}: {unnamed} cannot be a routing key's word (lower-case "
                         f"letters, digits and _)")
    if not only:
        return [f"{event_type}.#"]  # '#' matches no word too: the bare type as well
    # the bare type too: what a producer of an earlier release publishes during an upgrade
    return [event_type] + [f"{event_type}.{word}" for word in sorted(only)]


def consumer_queue(producer: str, event_type: str, service: str, method: str,
                   queue_type: str = "classic", routing_keys: list[str] | None = None
                   ) -> Queue:
    name = consumer_queue_name(producer, event_type, service, method)
    keys = routing_keys or binding_keys(event_type)
    return Queue(name, durable=True, queue_arguments=_queue_arguments(queue_type), bindings=[
        *(binding(event_exchange(producer), routing_key=key) for key in keys),
        binding(requeue_exchange(), routing_key=name),
    ])


def delay_exchange(delay_ms: int) -> Exchange:
    return Exchange(f"grantflow.retry.{delay_ms}ms", type="topic", durable=True,
                    delivery_mode=2)


def delay_queue(delay_ms: int, queue_type: str = "classic") -> Queue:
    arguments = {**_queue_arguments(queue_type), "x-message-ttl": int(delay_ms),
                 "x-dead-letter-exchange": REQUEUE_EXCHANGE}
    if queue_type == "quorum":
        # quorum queues dead-letter at most once by default: a retry in transit could be
        # lost; at-least-once needs reject-publish overflow (RabbitMQ 3.10+)
        arguments.update({"x-dead-letter-strategy": "at-least-once",
                          "x-overflow": "reject-publish"})
    return Queue(f"grantflow.delay.{delay_ms}ms", exchange=delay_exchange(delay_ms),
                 routing_key="#", durable=True, queue_arguments=arguments)


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="fanout", durable=True, delivery_mode=2)


def dead_letter_queue(queue_type: str = "classic") -> Queue:
    return Queue(DEAD_LETTER_QUEUE, exchange=dead_letter_exchange(), durable=True,
                 queue_arguments=_queue_arguments(queue_type))


def infrastructure_queues(retry_delays_ms, queue_type: str = "classic") -> list[Queue]:
    return [dead_letter_queue(queue_type)] + [delay_queue(ms, queue_type)
                                               for ms in sorted(set(retry_delays_ms))]


def declare(channel, queues: list[Queue]) -> None:
    """Declare queues with their exchanges and bindings (idempotent)."""
    for queue in queues:
        queue.maybe_bind(channel)
        queue.declare()
