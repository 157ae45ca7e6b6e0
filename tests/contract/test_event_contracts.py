"""Contract tests: one schema per event, the producer every subscriber expects, and every
payload a producer can emit loads with the schema every consumer loads it with.

Producers dump with ``shared.events.dump`` and consumers load with ``shared.events.load``
(the ``@subscribe`` entrypoint does it for them), both from the one schema in
``shared/events/schemas.py``; these tests pin the rest of the contract. The end-to-end
scenario tests add the real payloads: every event of a replayed call is loaded by the
operations and notifications services, and any payload that failed to load would be in
the dead-letter queue, which those tests assert is empty."""
import dataclasses
import json
import typing
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from grantflow.topology import service_class, subscriptions
from shared.config import SERVICE_CLASSES
from shared.events import catalogue, dump, load
from shared.events.registry import EVENT_CLASSES, SCHEMAS
from shared.messaging.topology import ALL_EVENTS

NOW = datetime(2019, 1, 31, 16, 0, tzinfo=timezone.utc)
PARTICIPANT = {"role": "coordinator", "legal_name": "Ville de Lyon", "organisation_id": "FR-1",
               "country": "FR", "entity_type": "public_body",
               "local_or_regional_authority": True, "experienced_in_integration": True,
               "contact_email": "europe@lyon.example"}
ENTRY = {"proposal_id": "P-1", "rank": 1, "total": "85.50", "scores": {"relevance": "27.00"},
         "tie_break": None, "requested_grant": "700000.00", "total_eligible_costs": "800000.00",
         "grant_amount": "700000.00", "duration_months": 24, "acronym": "NET",
         "contact_emails": ["europe@lyon.example"], "participants": [PARTICIPANT],
         "failed_thresholds": []}
# nested shapes the schemas define; every other field gets a plain value of its type
NESTED = {
    "manifest": [{"proposal_id": "P-1", "version": 2, "content_hash": "ab" * 32,
                  "received_at": "2019-01-31T15:59:59+00:00"}],
    "failed_rules": [{"rule": "participating_country", "kind": "eligibility",
                      "message": "Aarhus Kommune is established in DK",
                      "values": {"entities": [{"country": "DK"}]}}],
    "warnings": [],
    "proposal": {"acronym": "NET", "title": "T", "abstract": "A", "integration_areas": ["housing"],
                 "duration_months": 24, "total_eligible_costs": "800000.00",
                 "requested_grant": "700000.00", "participants": [PARTICIPANT]},
    "main": [ENTRY], "reserve": [dict(ENTRY, proposal_id="P-2", rank=2)],
    "rejected": [dict(ENTRY, proposal_id="P-3", rank=None, failed_thresholds=["overall"])],
    "scores": {"relevance": Decimal("27.00")}, "comments": {"relevance": "Convincing."},
    "call": {"id": "AMIF-2018-AG-INTE"}, "changes": ["budget raised"],
    "contact_emails": ["europe@lyon.example"], "notify_emails": ["europe@lyon.example"],
    "failed_thresholds": ["overall"],
}
EMAIL_FIELDS = {"expert_email", "coordinator_email", "recipient_email", "recipient", "email"}
CHOICES = {"party": "coordinator", "measure": "tti", "method": "mean"}


def sample_value(name: str, annotation):
    if name in NESTED:
        return NESTED[name]
    if name in EMAIL_FIELDS:
        return "person@example.org"
    if name in CHOICES:
        return CHOICES[name]
    kinds = set(typing.get_args(annotation)) or {annotation}
    for kind, value in ((datetime, NOW), (date, date(2019, 12, 1)), (Decimal, Decimal("1000.00")),
                        (bool, True), (int, 3)):
        if kind in kinds:
            return value
    return f"{name}-value"


def sample(cls):
    hints = typing.get_type_hints(cls)
    values = {f.name: sample_value(f.name, hints[f.name]) for f in dataclasses.fields(cls)
              if f.name not in ("event_id", "causation_id")}
    return cls(**{**values, "call_id": "AMIF-2018-AG-INTE", "correlation_id": "P-1",
                  "occurred_at": NOW})


def test_every_event_of_the_catalogue_has_exactly_one_schema():
    assert set(SCHEMAS) == set(EVENT_CLASSES) == {c.event_type() for c in catalogue.ALL_EVENTS}


@pytest.mark.parametrize("cls", catalogue.ALL_EVENTS, ids=lambda c: c.event_type())
def test_what_a_producer_dumps_every_consumer_loads_unchanged(cls):
    event = sample(cls)
    wire = json.loads(json.dumps(dump(event)))  # exactly what travels through the broker
    assert wire["event_type"] == cls.event_type() and wire["schema_version"] == cls.schema_version
    received = load(wire)
    assert type(received) is cls and received.event_id == event.event_id
    assert dump(received) == wire  # nothing lost or changed on the way


@pytest.mark.parametrize("cls", catalogue.ALL_EVENTS, ids=lambda c: c.event_type())
def test_a_consumer_refuses_a_payload_missing_a_required_field(cls):
    from marshmallow import ValidationError
    wire = dump(sample(cls))
    required = [name for name, field in SCHEMAS[cls.event_type()]().fields.items()
                if field.required and name not in ("event_type",)]
    for name in required:
        broken = {k: v for k, v in wire.items() if k != name}
        with pytest.raises(ValidationError) as refused:
            load(broken, expected=cls)
        assert name in refused.value.messages


@pytest.mark.parametrize("service", sorted(SERVICE_CLASSES))
def test_every_subscription_names_the_event_s_real_producer(service):
    for producer, event_type, method in subscriptions(service_class(service)):
        if event_type == ALL_EVENTS:
            assert producer in {cls.producer for cls in catalogue.ALL_EVENTS}, method
            continue
        assert event_type in EVENT_CLASSES, f"{service}.{method}: unknown event {event_type}"
        assert EVENT_CLASSES[event_type].producer == producer, (
            f"{service}.{method} listens for {event_type} on {producer}.events, but "
            f"{EVENT_CLASSES[event_type].producer} publishes it")


def test_every_event_has_at_least_one_consumer():
    consumed = set()
    for service in SERVICE_CLASSES:
        for producer, event_type, _ in subscriptions(service_class(service)):
            consumed |= ({cls.event_type() for cls in catalogue.ALL_EVENTS
                          if cls.producer == producer} if event_type == ALL_EVENTS
                         else {event_type})
    assert consumed >= set(EVENT_CLASSES)
