"""Builders of the events the grants service consumes, and a publisher that puts them on
the broker the way their producers' outbox relays would, so grants can be tested without
submission, evaluation or notifications running."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

from kombu import Connection

from shared.calls.loader import call_to_wire, load_default_call
from shared.calls.model import Call
from shared.events import (CallPublished, Event, NotificationDelivered, ProposalWithdrawn,
                           RankingPublished, TimetableStageReached, dump)
from shared.messaging.topology import event_exchange

CALL_ID = "AMIF-2018-AG-INTE"
TOPIC = "AMIF-2018-AG-INTE-1"
RANKED_AT = datetime(2019, 6, 20, 10, 0, tzinfo=timezone.utc)
INFORMATION_AT = datetime(2019, 7, 1, 8, 0, tzinfo=timezone.utc)  # 10:00 Brussels, per the call


def amif_call(**grant_rules) -> Call:
    """The bundled call, with some grant rules changed."""
    call = load_default_call()
    return replace(call, grants=replace(call.grants, **grant_rules))


def call_published(call: Call, at: datetime = datetime(2018, 7, 26, tzinfo=timezone.utc)
                   ) -> CallPublished:
    return CallPublished(call_id=call.id, correlation_id=call.id, occurred_at=at,
                         version=call.version, title=call.title, call=call_to_wire(call))


def entry(proposal_id: str, rank: int, requested: str, costs: str | None = None,
          duration: int = 36) -> dict:
    """A ranking entry as ``RankingEntrySchema`` loads it; costs default to requested/0.8
    (so the maximum grant equals the request under a 90 % cap)."""
    costs = costs or str(Decimal(requested) / Decimal("0.8"))
    low = proposal_id.lower()
    return {
        "proposal_id": proposal_id, "rank": rank, "total": Decimal("80"),
        "scores": {"relevance": Decimal("25")}, "tie_break": None,
        "requested_grant": Decimal(requested), "total_eligible_costs": Decimal(costs),
        "duration_months": duration, "acronym": f"NET-{proposal_id}",
        "contact_emails": [f"office@{low}.example.org", f"Coord@{low}.example.org"],
        "participants": [
            {"role": "coordinator", "legal_name": f"City of {proposal_id}",
             "organisation_id": f"PIC-{proposal_id}-1", "country": "IT",
             "entity_type": "public_body", "local_or_regional_authority": True,
             "experienced_in_integration": True,
             "contact_email": f"coord@{low}.example.org"},
            {"role": "co_applicant", "legal_name": f"Region of {proposal_id}",
             "organisation_id": f"PIC-{proposal_id}-2", "country": "DE",
             "entity_type": "public_body", "local_or_regional_authority": True,
             "experienced_in_integration": False,
             "contact_email": f"partner@{low}.example.org"},
        ],
        "failed_thresholds": [],
    }


def coordinator(proposal_id: str) -> str:
    return f"coord@{proposal_id.lower()}.example.org"


def rejected_entry(proposal_id: str) -> dict:
    return {**entry(proposal_id, 0, "500000"), "rank": None,
            "failed_thresholds": ["relevance"]}


def ranking(main: list[dict], reserve: list[dict], budget: str = "6000000",
            rejected: list[dict] | None = None, at: datetime = RANKED_AT,
            topic_id: str = TOPIC, call_id: str = CALL_ID) -> RankingPublished:
    return RankingPublished(
        call_id=call_id, correlation_id=topic_id, occurred_at=at, topic_id=topic_id,
        budget=Decimal(budget), main=main, reserve=reserve, rejected=rejected or [],
        funded_total=sum((e["requested_grant"] for e in main), Decimal(0)))


def stage_reached(stage: str = "information_to_applicants", at: datetime = INFORMATION_AT,
                  call_id: str = CALL_ID) -> TimetableStageReached:
    return TimetableStageReached(call_id=call_id, correlation_id=call_id, occurred_at=at,
                                 stage=stage, label=stage.replace("_", " "), at=at,
                                 call_version=1)


def letter_delivered(proposal_id: str, sent_at: datetime, template: str = "result_letter",
                     recipient: str | None = None, call_id: str = CALL_ID
                     ) -> NotificationDelivered:
    return NotificationDelivered(
        call_id=call_id, correlation_id=proposal_id, occurred_at=sent_at,
        notification_id=f"N-{proposal_id}-{sent_at.timestamp():.0f}",
        source_event_id="00000000-0000-0000-0000-000000000000",
        source_event_type="timetable_stage_reached",
        recipient=recipient or coordinator(proposal_id), template=template,
        message_id=f"<{proposal_id}@grantflow>", sent_at=sent_at, proposal_id=proposal_id)


def withdrawn(proposal_id: str, at: datetime, topic_id: str = TOPIC,
              call_id: str = CALL_ID) -> ProposalWithdrawn:
    return ProposalWithdrawn(call_id=call_id, correlation_id=proposal_id, occurred_at=at,
                             proposal_id=proposal_id, topic_id=topic_id, withdrawn_at=at,
                             acronym=f"NET-{proposal_id}",
                             contact_emails=[coordinator(proposal_id)])


def publish(amqp_uri: str, *events: Event) -> None:
    """Publish as the producer's relay does: ``<producer>.events``, the event's routing key,
    persistent, with publisher confirms."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(json.dumps(dump(event)), exchange=event_exchange(event.producer),
                             routing_key=event.routing_key(), content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2,
                             message_id=event.event_id, declare=[event_exchange(event.producer)])
