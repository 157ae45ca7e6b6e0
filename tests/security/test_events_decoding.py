"""Issue 10, finding 6: a body that cannot be decoded is dead-lettered with its reason.

kombu acks and drops a message it cannot decode before any nameko entrypoint sees it: on
main these three messages vanished without a trace. Consumers now take raw bodies and
dead-letter what is not UTF-8 JSON with the reason in the letter, the body unchanged."""
from __future__ import annotations

import pytest
from kombu import Connection, Exchange

from shared.messaging.dlq import list_dead_letters
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

QUEUE = "evt-submission-all--operations.record_submission_events"


def publish_raw(amqp_uri: str, body: bytes, content_type: str, encoding: str = "utf-8"):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(body, exchange=Exchange("submission.events", type="topic",
                                                        durable=True),
                                routing_key="proposal_submitted", content_type=content_type,
                                content_encoding=encoding, delivery_mode=2)


def test_undecodable_bodies_are_dead_lettered_with_their_reason(stack):
    stack.start("operations")
    uri = stack.vhost.amqp_uri
    publish_raw(uri, b'{"event_type": "proposal_submitted", oops', "application/json")
    publish_raw(uri, b"hello", "text/plain")
    publish_raw(uri, b'{"event_type": "proposal_submitted", "x": "\xff\xfe"}',
                "application/json")
    publish_raw(uri, b'{"event_type": "proposal_submitted"}', "application/json", "latin-1")

    letters = eventually(lambda: (lambda ls: len(ls) == 4 and ls)(list_dead_letters(uri)),
                         message="all four dead-lettered")
    errors = sorted(letter.error for letter in letters)
    assert errors[0].startswith("undecodable body: content encoding 'latin-1' is not utf-8")
    assert errors[1].startswith("undecodable body: content type 'text/plain' is not "
                                "application/json")
    assert errors[2].startswith("undecodable body: not JSON")
    assert errors[3].startswith("undecodable body: not UTF-8 text")
    assert {letter.queue for letter in letters} == {QUEUE}
    assert all(letter.attempts == 1 for letter in letters)  # at once, not retried
    raw = {letter.payload.get("raw") for letter in letters}
    assert "hello" in raw  # the body is kept as it came, for operations to look at
