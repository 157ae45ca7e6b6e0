"""The dead-letter queue against the real broker: a listing hides the letters it reads
for its moment, so listings and replays take turns, across processes too."""
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


def _slow_listing(monkeypatch, letters: int, seconds: float = 0.3) -> threading.Event:
    """Each letter the page's listing reads takes ``seconds`` (a loaded machine); the event
    is set once it holds ``letters`` letters, unacknowledged: all of them."""
    decode, listing, held = dlq._decode, threading.Event(), []

    def slow(message):
        if threading.current_thread().name == "page":
            held.append(message)
            if len(held) == letters:
                listing.set()
            time.sleep(seconds)
        return decode(message)

    monkeypatch.setattr(dlq, "_decode", slow)
    return listing


@pytest.mark.parametrize("same_process", [True, False], ids=["same process", "another process"])
def test_a_replay_asked_while_the_queue_is_being_listed_finds_its_letter(vhost, monkeypatch,
                                                                         same_process):
    # the operations page lists every few seconds, from any replica; a replay in that
    # moment found nothing and answered 404
    for event_id in ("first", "second"):
        _dead_letter(vhost.amqp_uri, event_id)
    queue = DeadLetterQueue(vhost.amqp_uri)
    page_queue = queue if same_process else DeadLetterQueue(vhost.amqp_uri)
    listing = _slow_listing(monkeypatch, letters=2)
    listed = []
    page = threading.Thread(target=lambda: listed.extend(page_queue.list()), name="page")
    page.start()
    assert listing.wait(10)
    replayed = queue.replay("second")
    page.join(10)
    assert [letter["event_id"] for letter in replayed] == ["second"]
    assert [letter["event_id"] for letter in listed] == ["first", "second"]
    assert [letter.event_id for letter in dlq.list_dead_letters(vhost.amqp_uri)] == ["first"]


def test_a_turn_held_too_long_is_a_clear_busy_error_and_a_closed_holder_frees_it(vhost):
    _dead_letter(vhost.amqp_uri, "only")
    holder = Connection(vhost.amqp_uri)
    dlq._take_turn(holder, patience=1)
    started = time.monotonic()
    with pytest.raises(dlq.DeadLettersBusy, match="another process has been reading"):
        dlq.replay(vhost.amqp_uri, event_id="only", patience=0.5)
    assert time.monotonic() - started >= 0.5
    holder.close()  # as a crashed process's connection: the broker deletes the turn
    assert [letter.event_id for letter in dlq.replay(vhost.amqp_uri, event_id="only",
                                                     patience=5)] == ["only"]
