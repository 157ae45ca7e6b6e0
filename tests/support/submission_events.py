"""Watch what a service publishes on the real broker: a test's own queue bound to the
producer's exchange for every routing key, read without a consumer service in between."""
from __future__ import annotations

import time

from kombu import Connection, Queue

from shared.messaging.topology import event_exchange


class EventTap:
    """Declare before the service publishes (a topic exchange drops what nobody is bound
    for), then :meth:`events` returns every payload received so far, in arrival order."""

    def __init__(self, amqp_uri: str, producer: str = "submission", name: str = "test-tap"):
        self.amqp_uri = amqp_uri
        self.queue = Queue(f"{name}.{producer}", exchange=event_exchange(producer),
                           routing_key="#", durable=False, auto_delete=False)
        self.received: list[dict] = []

    def declare(self) -> "EventTap":
        with Connection(self.amqp_uri) as conn:
            self.queue.maybe_bind(conn.default_channel)
            self.queue.declare()
        return self

    def events(self, event_type: str | None = None) -> list[dict]:
        with Connection(self.amqp_uri) as conn:
            queue = self.queue.bind(conn.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                self.received.append(message.payload)
        return [e for e in self.received if event_type is None or e["event_type"] == event_type]

    def wait_for(self, check, timeout: float = 30.0, message: str = ""):
        """Poll :meth:`events` until ``check(tap)`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check(self)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"not received within {timeout}s: {message} "
                             f"(got {[e['event_type'] for e in self.events()]})")
