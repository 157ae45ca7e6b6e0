"""Operations on the dead-letter queue: look at what failed, and send it back.

Listing takes every message without acknowledging it and then closes the channel, so the
broker puts them all back: the queue is unchanged. Replaying republishes a message to the
one handler queue it failed in (through ``grantflow.requeue``) with a fresh attempt count,
waits for the broker's confirm, and only then acks it off the dead-letter queue.

For as long as a listing reads, every letter is unacknowledged and invisible to anyone
else: a replay at that moment found nothing (the operations page lists every few seconds,
from any replica, and ``grantflow dlq list`` from anywhere). Listings and replays therefore
take turns across processes: each holds the queue's turn (:func:`_take_turn`) while it
reads.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from amqp.exceptions import ResourceLocked
from kombu import Connection

from shared.messaging import topology as t


@dataclass(frozen=True)
class DeadLetter:
    event_id: str | None
    event_type: str | None
    queue: str
    service: str | None
    attempts: int
    error: str
    dead_lettered_at: str | None
    payload: dict

    def to_dict(self) -> dict:
        return asdict(self)


def _decode(message) -> DeadLetter:
    headers = message.headers or {}
    try:
        payload = json.loads(message.body) if isinstance(message.body, (str, bytes)) \
            else message.body
    except ValueError:
        payload = {"raw": message.body.decode("utf-8", "replace")
                   if isinstance(message.body, bytes) else str(message.body)}
    return DeadLetter(
        event_id=payload.get("event_id") if isinstance(payload, dict) else None,
        event_type=headers.get(t.H_EVENT_TYPE) or (payload.get("event_type")
                                                   if isinstance(payload, dict) else None),
        queue=headers.get(t.H_QUEUE, ""), service=headers.get(t.H_SERVICE),
        attempts=int(headers.get(t.H_ATTEMPTS, 0)), error=headers.get(t.H_ERROR, ""),
        dead_lettered_at=headers.get(t.H_DEAD_AT), payload=payload)


#: how long a listing or a replay waits for its turn; the holder keeps it while it reads
#: the queue (0.2 s for a thousand letters of about 1 kB, measured on the dev broker)
TURN_PATIENCE_S = 10.0
_TURN_POLL_S = 0.05


class DeadLettersBusy(Exception):
    """Another process kept the dead-letter queue's turn longer than we waited."""


def _take_turn(conn, patience: float) -> None:
    """Hold the dead-letter queue's turn until ``conn`` closes.

    The turn is an exclusive queue (``grantflow.dead-letters.turn``): the broker lets one
    connection declare it, answers any other 405 RESOURCE_LOCKED, and deletes it when its
    connection closes, a crashed process's too, so a turn is never left held."""
    deadline = time.monotonic() + patience
    while True:
        channel = conn.channel()
        try:
            # classic whatever the vhost's default type: an exclusive queue cannot be quorum
            channel.queue_declare(t.DEAD_LETTER_TURN_QUEUE, durable=False, exclusive=True,
                                  arguments={"x-queue-type": "classic"})
            return
        except ResourceLocked:  # the broker closed this channel; the next try takes another
            if time.monotonic() >= deadline:
                raise DeadLettersBusy(f"another process has been reading the dead-letter "
                                      f"queue for over {patience:g} s; try again") from None
            time.sleep(_TURN_POLL_S)


def _channel(conn):
    channel = conn.channel()
    t.declare(channel, [t.dead_letter_queue()])
    return channel


def list_dead_letters(amqp_uri: str, limit: int = 1000,
                      patience: float = TURN_PATIENCE_S) -> list[DeadLetter]:
    with Connection(amqp_uri) as conn:
        _take_turn(conn, patience)
        channel = _channel(conn)
        letters = []
        try:
            for _ in range(limit):
                message = channel.basic_get(t.DEAD_LETTER_QUEUE, no_ack=False)
                if message is None:
                    break
                letters.append(_decode(message))
        finally:
            channel.close()  # unacked messages return to the queue, in order
        return letters


def replay(amqp_uri: str, event_id: str | None = None, limit: int = 1000,
           patience: float = TURN_PATIENCE_S) -> list[DeadLetter]:
    """Send dead letters back to their handler; all of them, or those of one event id.

    Only the letters in the queue when the replay starts are looked at: one that fails
    again at once is dead-lettered behind them and must not be replayed in a loop."""
    replayed = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        _take_turn(conn, patience)
        channel = _channel(conn)
        producer = conn.Producer(channel=channel)
        _, present, _ = channel.queue_declare(t.DEAD_LETTER_QUEUE, passive=True)
        try:
            for _ in range(min(limit, present)):
                message = channel.basic_get(t.DEAD_LETTER_QUEUE, no_ack=False)
                if message is None:
                    break
                letter = _decode(message)
                if event_id is not None and letter.event_id != event_id:
                    continue  # left unacked: goes back to the queue when the channel closes
                headers = {k: v for k, v in (message.headers or {}).items()
                           if not k.startswith("x-grantflow-") and not k.startswith("x-death")}
                headers[t.H_REPLAYED] = int((message.headers or {}).get(t.H_REPLAYED, 0)) + 1
                producer.publish(message.body, exchange=t.requeue_exchange(),
                                 routing_key=letter.queue, headers=headers,
                                 content_type=message.content_type,
                                 content_encoding=message.content_encoding,
                                 delivery_mode=2, declare=[t.requeue_exchange()])
                channel.basic_ack(message.delivery_tag)
                replayed.append(letter)
        finally:
            channel.close()
    return replayed


def count(amqp_uri: str) -> int:
    with Connection(amqp_uri) as conn:
        channel = _channel(conn)
        try:
            _, messages, _ = channel.queue_declare(t.DEAD_LETTER_QUEUE, passive=True)
            return messages
        finally:
            channel.close()
