"""A publisher that waits for RabbitMQ's confirms once per batch, not once per message.

nameko's EventDispatcher waits for each message's confirm (about 450 events/s here); the
outbox relay publishes a whole batch on a confirm-mode channel and then waits until the
broker has confirmed every delivery tag, which keeps the durability guarantee (nothing is
marked sent before the broker has it on disk) at several times the rate.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import amqp
from kombu import Connection

_log = logging.getLogger(__name__)


class PublishNotConfirmed(Exception):
    """The broker nacked a message or did not confirm the batch in time."""


@dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: str
    message_id: str
    headers: dict = field(default_factory=dict)


def connection_params(amqp_uri: str) -> dict:
    info = Connection(amqp_uri).info()
    return {"host": f"{info['hostname']}:{info['port'] or 5672}", "userid": info["userid"],
            "password": info["password"], "virtual_host": info["virtual_host"] or "/"}


class ConfirmingPublisher:
    """One connection and one confirm-mode channel; not shared between green threads."""

    def __init__(self, amqp_uri: str, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self._conn: amqp.Connection | None = None
        self._channel = None
        self._declared: set[str] = set()
        self._published = 0  # delivery tags handed out on this channel
        self._confirmed = 0  # highest tag confirmed (acks are cumulative when multiple=True)
        self._nacked = False
        self._single_acks: set[int] = set()

    # ------------------------------------------------------------------ connection
    def _connect(self):
        self._conn = amqp.Connection(**connection_params(self.amqp_uri), heartbeat=0,
                                     connect_timeout=10)
        self._conn.connect()
        self._channel = self._conn.channel()
        self._channel.confirm_select()
        self._channel.events["basic_ack"].add(self._on_ack)
        self._channel.events["basic_nack"].add(self._on_nack)
        self._declared.clear()
        self._published = self._confirmed = 0
        self._single_acks = set()

    def close(self):
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already gone; nothing to release
                pass

    def _on_ack(self, delivery_tag, multiple):
        # acks may come out of order, a tag at a time or all up to a tag (multiple): the
        # count confirmed is their contiguous prefix. Tags acked beyond it wait in
        # _single_acks until the gap closes, whichever kind of ack closes it (else the
        # batch waits out its confirm timeout), and none at or below it is kept (else
        # the set grows with every publish on the channel)
        if multiple:
            self._confirmed = max(self._confirmed, delivery_tag)
            self._single_acks = {tag for tag in self._single_acks if tag > self._confirmed}
        elif delivery_tag > self._confirmed:
            self._single_acks.add(delivery_tag)
        while self._confirmed + 1 in self._single_acks:
            self._confirmed += 1
            self._single_acks.discard(self._confirmed)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    # ------------------------------------------------------------------ publishing
    def declare_exchange(self, name: str, kind: str = "topic"):
        if name not in self._declared:
            self._channel.exchange_declare(name, kind, durable=True, auto_delete=False)
            self._declared.add(name)

    def publish_batch(self, messages: list[OutgoingMessage]) -> None:
        """Publish persistently and return only when the broker confirmed all of them."""
        if not messages:
            return
        if self._conn is None:
            self._connect()
        self._nacked = False
        try:
            for message in messages:
                self.declare_exchange(message.exchange)
                self._channel.basic_publish(
                    amqp.Message(message.body, content_type="application/json",
                                 content_encoding="utf-8", delivery_mode=2,
                                 message_id=message.message_id,
                                 headers=message.headers or None),
                    exchange=message.exchange, routing_key=message.routing_key)
                self._published += 1
            self._await_confirms()
        except Exception:
            self.close()  # the channel's tag sequence is unknown now: start afresh
            raise
        if self._nacked:
            self.close()
            raise PublishNotConfirmed("the broker refused (nacked) part of the batch")

    def _await_confirms(self):
        deadline = time.monotonic() + self.confirm_timeout
        while self._confirmed < self._published:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishNotConfirmed(
                    f"{self._published - self._confirmed} messages unconfirmed after "
                    f"{self.confirm_timeout}s")
            try:
                self._conn.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
