"""Issue 10, finding 6: an event reaches only the handler its type and producer route it
to, and metric labels come from the event catalogue, never from a body.

On main an event whose ``event_type`` did not match its routing key, or that was not its
exchange's producer's, reached the handler and took effect; and any ``event_type`` text in
a body became a label on the public ``/metrics``."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
from kombu import Connection, Exchange

from shared.events import dump
from shared.messaging.dlq import list_dead_letters
from tests.integration.backbone.helpers import scalar
from tests.support.evaluation_events import screened, withdrawn
from tests.support.grants_events import letter_delivered
from tests.support.infra import eventually, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def publish(amqp_uri: str, body: dict, exchange: str, routing_key: str) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(json.dumps(body), exchange=Exchange(exchange, type="topic",
                                                                    durable=True),
                                routing_key=routing_key, content_type="application/json",
                                content_encoding="utf-8", delivery_mode=2)


def timeline(stack) -> int:
    return scalar(stack, "operations", "SELECT count(*) FROM timeline")


def test_misrouted_and_forged_types_are_dead_lettered_at_once_and_never_labels(stack):
    stack.start("operations")
    uri = stack.vhost.amqp_uri
    # a withdrawal sent with a submission's routing key
    publish(uri, dump(withdrawn("P-1")), "submission.events", "proposal_submitted")
    # notifications' event on submission's exchange (as if submission's credentials forged it)
    letter = dump(letter_delivered("P-2", datetime(2019, 7, 1, tzinfo=timezone.utc)))
    publish(uri, letter, "submission.events", letter["event_type"])
    # a type nobody knows, which on main became a metric label
    forged = {**dump(screened("P-3")), "event_type": "forged_type_1234"}
    publish(uri, forged, "submission.events", "forged_type_1234")

    letters = eventually(lambda: (lambda ls: len(ls) == 3 and ls)(list_dead_letters(uri)),
                         message="all three dead-lettered")
    errors = sorted(letter.error for letter in letters)
    assert errors == [
        "misrouted: a proposal_withdrawn event published with routing key "
        "'proposal_submitted'",
        "misrouted: notification_delivered is produced by notifications, not by submission",
        "unknown event type 'forged_type_1234'"]
    assert all(letter.attempts == 1 for letter in letters)
    stays(lambda: timeline(stack) == 0, message="none of them took effect")

    def metrics() -> str:
        return requests.get(f"{stack.url('operations')}/metrics", timeout=10).text
    eventually(lambda: 'grantflow_dead_lettered_total{event_type="unknown",'
                       'service="operations"} 1.0' in metrics(),
               message="the unknown type counted under the one fixed label")
    assert "forged_type_1234" not in metrics()

    # the same withdrawal, routed as it should be, is applied
    publish(uri, dump(withdrawn("P-1")), "submission.events", "proposal_withdrawn")
    eventually(lambda: timeline(stack) == 1, message="the well-routed event took effect")
