"""Notification outcomes are routed by their template (``Event.routed_by``): grants binds
to the result letters' deliveries alone and no longer receives the other three in four
to drop them; operations, bound to every event, and a subscriber of the whole type still
get each one. Through the real outbox, relay and broker."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from kombu import Connection

from grantflow.topology import consumer_queues, declare_all
from shared.db.engine import create_service_engine
from shared.db.migrations import upgrade_to_head
from shared.db.session import session_factory
from shared.db.uow import UnitOfWork
from shared.events import dump
from shared.messaging.broker import OutgoingMessage
from shared.messaging.inbound import Refused, check_route
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import binding_keys, consumer_queue, declare
from tests.support.grants_events import letter_delivered

pytestmark = pytest.mark.integration

AT = datetime(2019, 7, 1, 10, tzinfo=timezone.utc)


def _queue(service: str, method: str) -> str:
    [name] = [q.name for q in consumer_queues([service]) if q.name.endswith(f".{method}")]
    return name


def _drain(amqp_uri: str, queue: str) -> list[str]:
    """The proposal ids of the messages in ``queue``, taking them off it."""
    found = []
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
            found.append(json.loads(message.body)["proposal_id"])
    return sorted(found)


def test_grants_gets_the_result_letters_deliveries_alone_operations_every_one(databases,
                                                                             vhost):
    uri = vhost.amqp_uri
    declare_all(uri, services=["grants", "operations"], retry_delays_ms=(1000,))
    # a subscriber of every delivery by type (no service is one today): '<type>.#'
    whole = consumer_queue("notifications", "notification_delivered", "probe", "every_one",
                           routing_keys=binding_keys("notification_delivered", routed=True))
    with Connection(uri) as conn:
        declare(conn.default_channel, [whole])
    engine = create_service_engine(databases.url("notifications"), pool_size=1,
                                   max_overflow=0)
    relay = OutboxRelay(engine, uri, "notifications")
    try:
        upgrade_to_head(engine, "services.notifications:migrations")
        uow = UnitOfWork(session_factory(engine), "notifications")
        with uow:
            uow.add_events(letter_delivered("P-1", AT),
                           letter_delivered("P-2", AT, template="submission_receipt"),
                           letter_delivered("P-3", AT, template="evaluator_assigned"))
            uow.commit()
        assert relay.relay_once() == 3
        # a result letter's delivery under the bare type, as an earlier release sent it
        bare = letter_delivered("P-4", AT)
        relay.publisher.publish_batch([OutgoingMessage(
            "notifications.events", "notification_delivered", json.dumps(dump(bare)),
            bare.event_id)])
    finally:
        relay.publisher.close()
        engine.dispose()

    assert _drain(uri, _queue("grants", "on_notification_delivered")) == ["P-1", "P-4"]
    assert _drain(uri, _queue("operations", "record_notifications_events")) == [
        "P-1", "P-2", "P-3", "P-4"]
    assert _drain(uri, whole.name) == ["P-1", "P-2", "P-3", "P-4"]


def test_a_delivery_passes_under_its_own_templates_key_or_the_bare_type_only():
    receipt = dump(letter_delivered("P-2", AT, template="submission_receipt"))
    queue = "evt-notifications-notification_delivered--grants.on_notification_delivered"

    def route(key: str) -> str:
        return check_route(receipt, {"exchange": "notifications.events", "routing_key": key},
                           "notifications", "notification_delivered", queue)

    assert route("notification_delivered.submission_receipt") == "notification_delivered"
    assert route("notification_delivered") == "notification_delivered"
    for forged in ("notification_delivered.result_letter", "notification_delivered.#",
                   "notification_delivered.submission_receipt.x", "proposal_submitted"):
        with pytest.raises(Refused, match="misrouted"):
            route(forged)


def test_a_subscription_names_only_kinds_a_routing_key_can_carry_of_an_event_routed_by_one():
    assert binding_keys("notification_delivered", routed=True) == ["notification_delivered.#"]
    assert binding_keys("notification_delivered", routed=True, only=("result_letter",)) == [
        "notification_delivered", "notification_delivered.result_letter"]
    with pytest.raises(ValueError, match=r"\['result.letter'\] cannot be a routing key's word"):
        binding_keys("notification_delivered", routed=True, only=("result.letter",))
    with pytest.raises(ValueError, match="routed by its type alone"):
        binding_keys("proposal_submitted", only=("x",))
