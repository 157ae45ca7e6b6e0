"""Submission's events as evaluation receives them, for evaluation's tests: builders that
round-trip through the wire schemas (so a test sees exactly what a consumer loads), and a
publisher that puts them on the broker as submission would."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kombu import Connection, Exchange

from shared.calls.loader import call_to_wire, load_default_call
from shared.events import (
    CallPublished, DeadlineClosed, ProposalScreened, ProposalWithdrawn, TimetableStageReached,
    dump, load)

CALL_ID = "AMIF-2018-AG-INTE"
TOPIC = "AMIF-2018-AG-INTE-1"
T0 = datetime(2019, 2, 1, 9, 0, tzinfo=timezone.utc)
DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=timezone.utc)
AREAS = ("housing", "labour_market", "education_training", "basic_services_health")


def wire(event):
    """The event as a consumer loads it from the wire."""
    return load(dump(event))


def call_document(version: int = 1, **evaluation) -> dict:
    """The bundled call's wire form, with evaluation settings overridden."""
    document = copy.deepcopy(call_to_wire(load_default_call()))
    document["version"] = version
    document["evaluation"].update({k: (str(v) if not isinstance(v, (int, str, list)) else v)
                                   for k, v in evaluation.items()})
    return document


def call_published(version: int = 1, **evaluation) -> CallPublished:
    return wire(CallPublished(call_id=CALL_ID, correlation_id=CALL_ID, occurred_at=T0,
                              version=version, title="Integration of third-country nationals",
                              call=call_document(version, **evaluation)))


def participant(org: str, country: str = "FR", role: str = "co_applicant",
                email: str | None = None) -> dict:
    return {"role": role, "legal_name": f"{org} legal name", "organisation_id": org,
            "country": country, "entity_type": "public_body",
            "local_or_regional_authority": True, "experienced_in_integration": True,
            "contact_email": email or f"contact@{org.lower()}.example.eu"}


def snapshot(pid: str, orgs=("ORG-A", "ORG-B", "ORG-C"), areas=AREAS[:2],
             abstract="Housing and labour market integration of migrants in cities",
             grant: int = 600_000, costs: int | None = None) -> dict:
    return {"acronym": f"ACR-{pid}", "title": f"Proposal {pid}", "abstract": abstract,
            "integration_areas": list(areas), "duration_months": 24,
            "total_eligible_costs": str(Decimal(costs if costs is not None else grant * 2)),
            "requested_grant": str(Decimal(grant)),
            "participants": [participant(org, role="coordinator" if i == 0 else "co_applicant")
                             for i, org in enumerate(orgs)]}


def contacts(pid: str) -> list[str]:
    return [f"coordinator-{pid.lower()}@applicant.example.eu"]


def deadline_closed(pids, topic: str = TOPIC, received: datetime | None = None) -> DeadlineClosed:
    received = received or DEADLINE - timedelta(hours=1)
    entries = [{"proposal_id": pid, "version": 1, "content_hash": f"hash-{pid}",
                "received_at": (received + timedelta(minutes=i)).isoformat()}
               for i, pid in enumerate(sorted(pids))]
    return wire(DeadlineClosed(call_id=CALL_ID, correlation_id=topic, occurred_at=DEADLINE,
                               topic_id=topic, deadline=DEADLINE, closed_at=DEADLINE,
                               manifest=entries, manifest_hash="h" * 64))


def screened(pid: str, eligible: bool = True, topic: str = TOPIC, **snapshot_kw) -> ProposalScreened:
    failed = [] if eligible else [{"rule": "min_entities", "kind": "eligibility",
                                   "message": "fewer than three entities", "values": {}}]
    return wire(ProposalScreened(
        call_id=CALL_ID, correlation_id=pid, occurred_at=DEADLINE, proposal_id=pid,
        topic_id=topic, version=1, admissible=True, eligible=eligible, failed_rules=failed,
        proposal=snapshot(pid, **snapshot_kw), contact_emails=contacts(pid)))


def withdrawn(pid: str, topic: str = TOPIC, at: datetime = T0) -> ProposalWithdrawn:
    return wire(ProposalWithdrawn(call_id=CALL_ID, correlation_id=pid, occurred_at=at,
                                  proposal_id=pid, topic_id=topic, withdrawn_at=at,
                                  acronym=f"ACR-{pid}", contact_emails=contacts(pid)))


def stage(name: str, at: datetime = T0) -> TimetableStageReached:
    return wire(TimetableStageReached(call_id=CALL_ID, correlation_id=CALL_ID, occurred_at=at,
                                      stage=name, label=name.replace("_", " "), at=at,
                                      call_version=1))


def expert_record(i: int, org: str | None = None, areas=AREAS[:2], max_load: int = 4,
                  keywords=("housing", "labour market", "migrants")) -> dict:
    return {"id": f"E-{i}", "name": f"Expert {i}", "email": f"expert{i}@pool.example.org",
            "country": "BE", "organisation_id": org or f"ORG-X{i}",
            "expertise_areas": list(areas), "keywords": list(keywords), "max_load": max_load,
            "languages": ["en"]}


def publish(amqp_uri: str, *events) -> None:
    """Put events on their producer's exchange as the outbox relay would."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(dump(event), exchange=Exchange(f"{event.producer}.events",
                                                            type="topic", durable=True),
                             routing_key=event.routing_key(), serializer="json",
                             delivery_mode=2)
