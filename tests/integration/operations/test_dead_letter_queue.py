"""The operations service's dead-letter queue against the real broker: a replay asked
for while the page lists the queue still finds its letter."""
import threading
import time

import pytest
from kombu import Connection

from services.operations.adapters.dead_letters import DeadLetterQueue
from shared.messaging import dlq, topology as t

pytestmark = [pytest.mark.integration]

QUEUE = "evt-submission-all--operations.record_submission_events"


def _dead_letter(amqp_uri: str, event_id: str) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        t.declare(channel, [t.dead_letter_queue()])
        conn.Producer(channel=channel).publish(
            {"event_type": "proposal_submitted", "event_id": event_id}, exchange="",
            routing_key=t.DEAD_LETTER_QUEUE, serializer="json",
            headers={t.H_QUEUE: QUEUE, t.H_EVENT_TYPE: "proposal_submitted"})
        channel.close()


def test_a_replay_asked_while_the_queue_is_being_listed_finds_its_letter(vhost, monkeypatch):
    # a listing holds every letter unacknowledged until it is done: the page lists every
    # few seconds, and a replay in that moment found nothing and answered 404
    for event_id in ("first", "second"):
        _dead_letter(vhost.amqp_uri, event_id)
    queue = DeadLetterQueue(vhost.amqp_uri)
    decode = dlq._decode
    listing = threading.Event()

    def slow(message):  # the page's listing, on a loaded machine
        listing.set()
        time.sleep(0.3)
        return decode(message)

    monkeypatch.setattr(dlq, "_decode", slow)
    page = threading.Thread(target=queue.list)
    page.start()
    assert listing.wait(10)
    replayed = queue.replay("second")
    page.join(10)
    assert [letter["event_id"] for letter in replayed] == ["second"]
    monkeypatch.setattr(dlq, "_decode", decode)
    assert [letter.event_id for letter in dlq.list_dead_letters(vhost.amqp_uri)] == ["first"]
