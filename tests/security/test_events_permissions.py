"""Issue 10, finding 6: a forged but well-formed event. With one broker account any
service (or anyone holding its credentials) could publish on another service's exchange,
or send an event to any queue through the retry exchanges. Each service now runs as its
own broker user with the permissions of shared/messaging/permissions.py (the same ones
``grantflow deploy rabbitmq-definitions`` writes); here they are given to users on the
test's vhost of the real broker, the services run under them, and forgeries are refused."""
from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import amqp
import pytest
import requests

from grantflow.topology import producers_consumed
from shared.messaging.broker import connection_params
from shared.messaging.dlq import list_dead_letters
from shared.messaging.permissions import permissions, retry_topic_permissions
from tests.integration.backbone.helpers import published_call, scalar
from tests.support.infra import RABBIT_API, RABBIT_HOST, eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SERVICES = ("submission", "operations", "notifications")


@pytest.fixture
def broker_users(stack):
    """A user per service on the test's vhost, with exactly the generated permissions;
    returns each one's AMQP URI."""
    vhost = quote(stack.vhost.name, safe="")
    uris, made = {}, []
    consumed = producers_consumed()
    for service in SERVICES:
        user, password = f"{stack.vhost.name}-{service}", uuid.uuid4().hex
        requests.put(f"{RABBIT_API}/users/{quote(user, safe='')}", timeout=10,
                     json={"password": password, "tags": ""}).raise_for_status()
        made.append(user)
        requests.put(f"{RABBIT_API}/permissions/{vhost}/{quote(user, safe='')}", timeout=10,
                     json=permissions(service, consumed[service])).raise_for_status()
        for topic in retry_topic_permissions(service, stack.RETRY_DELAYS_MS):
            requests.put(f"{RABBIT_API}/topic-permissions/{vhost}/{quote(user, safe='')}",
                         timeout=10, json=topic).raise_for_status()
        uris[service] = f"amqp://{quote(user, safe='')}:{password}@{RABBIT_HOST}/{vhost}"
    yield uris
    # the services first, while their users exist: without them the broker closes their
    # connections and they keep failing to reconnect until stopped
    stack.stop_all()
    for user in made:
        requests.delete(f"{RABBIT_API}/users/{quote(user, safe='')}", timeout=10)


def publish(uri: str, exchange: str, routing_key: str, body: dict) -> None:
    """Publish with publisher confirms; raises amqp's AccessRefused when not allowed."""
    conn = amqp.Connection(**connection_params(uri))
    conn.connect()
    try:
        channel = conn.channel()
        channel.confirm_select()
        channel.basic_publish(amqp.Message(json.dumps(body), content_type="application/json"),
                              exchange=exchange, routing_key=routing_key)
        conn.drain_events(timeout=5)  # the confirm, or the channel closed with 403
    finally:
        try:
            conn.close()
        except Exception:  # already closed by the broker's refusal
            pass


def test_each_service_may_publish_only_its_own_events_and_retries(stack, broker_users):
    for service in ("submission", "operations"):
        stack.overrides[service] = {"AMQP_URI": broker_users[service]}
    stack.start("operations", "submission")

    # the permissions suffice: a call published by submission reaches operations
    published_call(stack)
    assert scalar(stack, "operations", "SELECT count(*) FROM processed_events") >= 2

    forged = {"event_type": "ranking_published", "event_id": str(uuid.uuid4())}
    submission = broker_users["submission"]
    operations_queue = "evt-submission-all--operations.record_submission_events"
    refused = [
        ("evaluation.events", "ranking_published"),  # another service's exchange
        ("grantflow.retry.100ms", operations_queue),  # a "retry" to another's queue
        ("grantflow.requeue", operations_queue),  # a "replay"
    ]
    for exchange, routing_key in refused:
        with pytest.raises(amqp.exceptions.AccessRefused, match="ACCESS_REFUSED"):
            publish(submission, exchange, routing_key, forged)
    # what submission does need: its own exchange, a retry to its own queue, dead letters
    malformed = {"event_type": "call_published", "event_id": "not-a-uuid"}
    publish(submission, "submission.events", "call_published", malformed)
    publish(submission, "grantflow.retry.100ms",
            "evt-evaluation-ranking_published--submission.on_ranking_published", forged)
    publish(submission, "grantflow.dead-letter", "x", forged)

    # operations, under its own user, dead-letters the malformed one and may replay
    def letters_of_operations():
        return [letter for letter in list_dead_letters(stack.vhost.amqp_uri)
                if letter.queue == operations_queue]
    eventually(letters_of_operations, message="dead-lettered by operations under its user")
    replayed = stack.api("operations").post("/dead-letters/replay",
                                            json={"event_id": "not-a-uuid"})
    assert (replayed.status_code, replayed.json()["count"]) == (200, 1), replayed.text
    eventually(lambda: [letter.attempts for letter in letters_of_operations()] == [1],
               message="replayed through grantflow.requeue, and dead-lettered again")


def test_the_dead_letter_queues_readers_may_list_it_under_their_own_users(stack, broker_users):
    # operations (its page, ``grantflow dlq``) and notifications (the daily digest names
    # the waiting letters) read it, taking its turn; any other service may not
    publish(broker_users["submission"], "grantflow.dead-letter", "x",
            {"event_type": "ranking_published", "event_id": "waiting"})
    for reader in ("operations", "notifications"):
        assert [letter.event_id for letter in list_dead_letters(broker_users[reader])] \
            == ["waiting"], reader
    with pytest.raises(amqp.exceptions.AccessRefused, match="ACCESS_REFUSED"):
        list_dead_letters(broker_users["submission"])
