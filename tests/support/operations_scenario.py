"""A whole call told as the events its producers publish, for the operations tests.

Topic AMIF-2018-AG-INTE-5 (budget EUR 500,000) takes one proposal to each final state;
one proposal of topic -1 is still under evaluation. The expected outcome of each proposal
is in :data:`EXPECTED`; the events (valid on the wire) in :func:`call_events`. Instants
follow the call's timetable, and several events share an instant on purpose, as they do
when the simulated clock stands still.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from shared.calls.loader import call_to_wire, load_default_call
from shared.events import (CallPublished, DeadlineClosed, EvaluationCompleted,
                           EvaluationReportSubmitted, EvaluatorAssigned, EvaluatorReleased,
                           Event, GrantDeclined, GrantPreparationStarted, GrantSigned,
                           NotificationDeferred, NotificationDelivered, NotificationFailed,
                           ProposalScreened, ProposalSubmitted, ProposalWithdrawn,
                           RankingPublished, ReservePromoted, TimeTargetBreached,
                           TimetableStageReached, dump)

CALL_ID = "AMIF-2018-AG-INTE"
T5 = "AMIF-2018-AG-INTE-5"
T1 = "AMIF-2018-AG-INTE-1"
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DEADLINE = at("2019-01-31T16:00:00")
ASSIGNED = at("2019-02-01T09:00:00")
RANKED = at("2019-07-01T08:00:00")  # information to applicants = start of grant preparation
DECLINED_AT = at("2019-08-01T00:00:00")

#: proposal -> (topic, final_state, state, failed_rules, total, rank, list)
EXPECTED = {
    "P-WDR": (T5, "withdrawn", "withdrawn", [], None, None, None),
    "P-INA": (T5, "inadmissible", "inadmissible", ["required_parts"], None, None, None),
    "P-INE": (T5, "ineligible", "ineligible", ["participating_country"], None, None, None),
    "P-REJ": (T5, "rejected", "rejected", [], "55.00", None, "rejected"),
    "P-SIG": (T5, "grant_signed", "grant_signed", [], "88.00", 1, "main"),
    "P-DEC": (T5, "declined", "declined", [], "84.00", 2, "main"),
    "P-PRO": (T5, "grant_signed", "grant_signed", [], "80.00", 3, "reserve"),
    "P-RES": (T5, "reserve", "reserve", [], "76.00", 4, "reserve"),
    "P-EVA": (T1, None, "under_evaluation", [], None, None, None),
}
AMOUNTS = {"P-SIG": Decimal("200000.00"), "P-DEC": Decimal("250000.00"),
           "P-PRO": Decimal("240000.00"), "P-RES": Decimal("300000.00"),
           "P-REJ": Decimal("100000.00")}
#: expert -> (current load, by topic, released)
LOADS = {"E1": (6, {T1: 1, T5: 5}, 0), "E2": (6, {T1: 1, T5: 5}, 0),
         "E3": (4, {T5: 4}, 1), "E4": (2, {T1: 1, T5: 1}, 0)}
LETTERS_SENT = 5


def contacts(pid: str) -> list[str]:
    return [f"{pid.lower()}@applicant.example.eu"]


def snapshot(pid: str) -> dict:
    amount = AMOUNTS.get(pid, Decimal("150000.00"))
    return {"acronym": pid.replace("-", ""), "title": f"Proposal {pid}", "abstract": "Integration.",
            "integration_areas": ["housing"], "duration_months": 24,
            "total_eligible_costs": str(amount / Decimal("0.9")),
            "requested_grant": str(amount),
            "participants": [{"role": "coordinator", "legal_name": f"Coordinator of {pid}",
                              "organisation_id": f"ORG-{pid}", "country": "BE",
                              "entity_type": "public_body", "local_or_regional_authority": True,
                              "experienced_in_integration": True,
                              "contact_email": contacts(pid)[0]}]}


class Builder:
    """Builds events with the envelope filled in; keeps them in the order built."""

    def __init__(self, call_id: str = CALL_ID):
        self.call_id = call_id
        self.events: list[Event] = []

    def add(self, cls, occurred_at: datetime, correlation_id: str, causation: Event | None = None,
            **fields) -> Event:
        event = cls(call_id=self.call_id, correlation_id=correlation_id, occurred_at=occurred_at,
                    causation_id=causation.event_id if causation else None, **fields)
        self.events.append(event)
        return event

    # ---------------------------------------------------------------- submission
    def published(self, when: datetime, version: int = 1) -> Event:
        call = load_default_call()
        return self.add(CallPublished, when, self.call_id, version=version, title=call.title,
                        call=call_to_wire(call))

    def stage(self, key: str, label: str, when: datetime) -> Event:
        return self.add(TimetableStageReached, when, self.call_id, stage=key, label=label,
                        at=when, call_version=1)

    def submitted(self, pid: str, topic: str, when: datetime, version: int = 1) -> Event:
        return self.add(ProposalSubmitted, when, pid, proposal_id=pid, topic_id=topic,
                        version=version, content_hash="ab" * 32, received_at=when,
                        acronym=pid.replace("-", ""), title=f"Proposal {pid}",
                        applicant_name=f"Coordinator of {pid}", contact_emails=contacts(pid))

    def withdrawn(self, pid: str, topic: str, when: datetime) -> Event:
        return self.add(ProposalWithdrawn, when, pid, proposal_id=pid, topic_id=topic,
                        withdrawn_at=when, acronym=pid.replace("-", ""),
                        contact_emails=contacts(pid), reason="consortium changed")

    def closed(self, topic: str, versions: dict[str, int], when: datetime) -> Event:
        manifest = [{"proposal_id": pid, "version": v, "content_hash": "ab" * 32,
                     "received_at": "2019-01-20T10:00:00+00:00"}
                    for pid, v in sorted(versions.items())]
        return self.add(DeadlineClosed, when, self.call_id, topic_id=topic, deadline=when,
                        closed_at=when, manifest=manifest, manifest_hash="cd" * 32)

    def screened(self, pid: str, topic: str, when: datetime, failed: str | None = None,
                 kind: str = "eligibility", cause: Event | None = None) -> Event:
        rules = [{"rule": failed, "kind": kind, "message": f"{failed} not met", "values": {}}] \
            if failed else []
        return self.add(ProposalScreened, when, pid, cause, proposal_id=pid, topic_id=topic,
                        version=1, admissible=not (failed and kind == "admissibility"),
                        eligible=not (failed and kind == "eligibility"), failed_rules=rules,
                        proposal=snapshot(pid), contact_emails=contacts(pid))

    # ---------------------------------------------------------------- evaluation
    def assigned(self, pid: str, topic: str, expert: str, when: datetime,
                 reason: str = "initial") -> Event:
        return self.add(EvaluatorAssigned, when, pid, proposal_id=pid, topic_id=topic,
                        expert_id=expert, expert_name=f"Expert {expert}",
                        expert_email=f"{expert.lower()}@experts.example.eu",
                        acronym=pid.replace("-", ""), due_at=when + timedelta(days=21),
                        reason=reason)

    def released(self, pid: str, topic: str, expert: str, when: datetime) -> Event:
        return self.add(EvaluatorReleased, when, pid, proposal_id=pid, topic_id=topic,
                        expert_id=expert, expert_email=f"{expert.lower()}@experts.example.eu",
                        reason="conflict_declared", expert_name=f"Expert {expert}")

    def reported(self, pid: str, topic: str, expert: str, total: str, when: datetime) -> Event:
        return self.add(EvaluationReportSubmitted, when, pid, proposal_id=pid, topic_id=topic,
                        expert_id=expert, total=Decimal(total), final=True)

    def completed(self, pid: str, topic: str, total: str, when: datetime) -> Event:
        passed = Decimal(total) >= 60
        return self.add(EvaluationCompleted, when, pid, proposal_id=pid, topic_id=topic,
                        scores={"relevance": Decimal(total) / 2, "quality": Decimal(total) / 2},
                        comments={"relevance": "ok", "quality": "ok"}, total=Decimal(total),
                        passed=passed, failed_thresholds=[] if passed else ["overall"],
                        method="mean", spread_flagged=False, acronym=pid.replace("-", ""),
                        contact_emails=contacts(pid))

    def ranking(self, topic: str, budget: str, when: datetime, main, reserve, rejected) -> Event:
        def entries(items):
            return [{"proposal_id": pid, "rank": rank, "total": total,
                     "scores": {"relevance": str(Decimal(total) / 2)},
                     "requested_grant": str(AMOUNTS[pid]),
                     "total_eligible_costs": str(AMOUNTS[pid] / Decimal("0.9")),
                     "grant_amount": str(AMOUNTS[pid]), "duration_months": 24,
                     "acronym": pid.replace("-", ""), "contact_emails": contacts(pid)}
                    for pid, rank, total in items]
        funded = sum((AMOUNTS[pid] for pid, _, _ in main), Decimal("0"))
        return self.add(RankingPublished, when, topic, topic_id=topic, budget=Decimal(budget),
                        main=entries(main), reserve=entries(reserve), rejected=entries(rejected),
                        funded_total=funded)

    # ---------------------------------------------------------------- grants
    def preparation(self, pid: str, topic: str, when: datetime, cause: Event,
                    promoted: bool = False) -> Event:
        return self.add(GrantPreparationStarted, when, pid, cause, grant_id=f"G-{pid}",
                        proposal_id=pid, topic_id=topic, acronym=pid.replace("-", ""),
                        max_grant=AMOUNTS[pid], requested_grant=AMOUNTS[pid],
                        total_eligible_costs=AMOUNTS[pid] / Decimal("0.9"), duration_months=24,
                        start_date=(when + timedelta(days=120)).date(),
                        preparation_deadline=when + timedelta(days=60),
                        signature_deadline=when + timedelta(days=120),
                        coordinator_email=contacts(pid)[0], contact_emails=contacts(pid),
                        promoted_from_reserve=promoted)

    def signed(self, pid: str, topic: str, when: datetime) -> Event:
        return self.add(GrantSigned, when, pid, grant_id=f"G-{pid}", proposal_id=pid,
                        topic_id=topic, acronym=pid.replace("-", ""), amount=AMOUNTS[pid],
                        signed_at=when, prefinancing_amount=AMOUNTS[pid] * Decimal("0.8"),
                        contact_emails=contacts(pid))

    def declined(self, pid: str, topic: str, when: datetime) -> Event:
        return self.add(GrantDeclined, when, pid, grant_id=f"G-{pid}", proposal_id=pid,
                        topic_id=topic, acronym=pid.replace("-", ""), reason="declined",
                        freed_budget=AMOUNTS[pid], contact_emails=contacts(pid))

    def promoted(self, pid: str, topic: str, rank: int, freed: Event, when: datetime) -> Event:
        return self.add(ReservePromoted, when, pid, freed, proposal_id=pid, topic_id=topic,
                        rank=rank, freed_by=freed.proposal_id, available_budget=Decimal("300000"),
                        acronym=pid.replace("-", ""), contact_emails=contacts(pid))

    def breached(self, pid: str, when: datetime) -> Event:
        return self.add(TimeTargetBreached, when, pid, proposal_id=pid, measure="ttg",
                        days=250, target_months=8, limit_at=when)

    # ---------------------------------------------------------------- notifications
    def delivered(self, pid: str, template: str, cause: Event,
                  after_deferral: bool = False) -> Event:
        return self.add(NotificationDelivered, cause.occurred_at, pid, cause,
                        notification_id=f"N-{template}-{pid}", source_event_id=cause.event_id,
                        source_event_type=cause.event_type(), recipient=contacts(pid)[0],
                        template=template, message_id=f"<{pid}@grantflow>",
                        sent_at=cause.occurred_at, proposal_id=pid,
                        after_deferral=after_deferral)

    def deferred(self, pid: str, template: str, cause: Event) -> Event:
        return self.add(NotificationDeferred, cause.occurred_at, pid, cause,
                        notification_id=f"N-{template}-{pid}", source_event_id=cause.event_id,
                        source_event_type=cause.event_type(), recipient=contacts(pid)[0],
                        template=template, reason="ConnectionRefusedError: refused",
                        proposal_id=pid)

    def failed(self, pid: str, template: str, cause: Event) -> Event:
        return self.add(NotificationFailed, cause.occurred_at, pid, cause,
                        notification_id=f"NF-{template}-{pid}", source_event_id=cause.event_id,
                        source_event_type=cause.event_type(), recipient=contacts(pid)[0],
                        template=template, reason="550 mailbox unavailable", proposal_id=pid)


STAGES = (("publication", "Publication and opening of submission", at("2018-07-25T22:00:00")),
          ("submission_deadline", "Submission deadline", DEADLINE),
          ("evaluation_start", "Evaluation starts", at("2019-01-31T23:00:00")),
          ("evaluation_end", "Evaluation ends", at("2019-06-30T22:00:00")),
          ("information_to_applicants", "Information to applicants", RANKED),
          ("grant_preparation_start", "Grant agreement preparation starts", RANKED))
CURRENT_STAGE = "grant_preparation_start"


def call_events(until_signed: bool = True) -> list[Event]:
    """Every event of the scenario, in the order it happened. ``until_signed=False``
    stops before P-PRO's grant is signed (P-RES is then still waiting on the reserve)."""
    b = Builder()
    b.published(STAGES[0][2])
    for key, label, when in STAGES:
        b.stage(key, label, when)
    for i, pid in enumerate(p for p in EXPECTED if EXPECTED[p][0] == T5):
        b.submitted(pid, T5, at("2019-01-10T10:00:00") + timedelta(hours=i))
    b.submitted("P-EVA", T1, at("2019-01-11T10:00:00"))
    b.submitted("P-WDR", T5, at("2019-01-15T10:00:00"), version=2)
    b.withdrawn("P-WDR", T5, at("2019-01-20T10:00:00"))
    frozen_t5 = [p for p in EXPECTED if EXPECTED[p][0] == T5 and p != "P-WDR"]
    close5 = b.closed(T5, {p: 1 for p in frozen_t5}, DEADLINE)
    b.closed(T1, {"P-EVA": 1}, DEADLINE)
    for pid in frozen_t5 + ["P-EVA"]:
        topic = EXPECTED[pid][0]
        failed = {"P-INA": ("required_parts", "admissibility"),
                  "P-INE": ("participating_country", "eligibility")}.get(pid)
        screen = b.screened(pid, topic, DEADLINE, *(failed or (None,)), cause=close5)
        if failed:
            b.delivered(pid, "screening_result", screen)
    evaluated = ["P-REJ", "P-SIG", "P-DEC", "P-PRO", "P-RES"]
    for pid in evaluated + ["P-EVA"]:
        topic = EXPECTED[pid][0]
        experts = ["E1", "E2", "E4"] if pid == "P-EVA" else ["E1", "E2", "E3"]
        for expert in experts:
            b.assigned(pid, topic, expert, ASSIGNED)
        if pid == "P-SIG":
            b.released(pid, T5, "E3", ASSIGNED + timedelta(days=2))
            b.assigned(pid, T5, "E4", ASSIGNED + timedelta(days=2), reason="repair")
    for pid in evaluated:
        total = EXPECTED[pid][4]
        for expert in ("E1", "E2"):
            b.reported(pid, T5, expert, total, at("2019-03-01T12:00:00"))
        b.completed(pid, T5, total, at("2019-04-01T12:00:00"))
    b.reported("P-EVA", T1, "E1", "70", at("2019-03-02T12:00:00"))
    ranking = b.ranking(T5, "500000", RANKED,
                        main=[("P-SIG", 1, "88.00"), ("P-DEC", 2, "84.00")],
                        reserve=[("P-PRO", 3, "80.00"), ("P-RES", 4, "76.00")],
                        rejected=[("P-REJ", None, "55.00")])
    for pid in evaluated:
        b.delivered(pid, "result_letter", ranking)
    b.preparation("P-SIG", T5, RANKED, ranking)
    dec = b.preparation("P-DEC", T5, RANKED, ranking)
    b.failed("P-DEC", "grant_invitation", dec)
    b.signed("P-SIG", T5, at("2019-09-01T12:00:00"))
    declined = b.declined("P-DEC", T5, DECLINED_AT)
    promoted = b.promoted("P-PRO", T5, 3, declined, DECLINED_AT)
    b.preparation("P-PRO", T5, DECLINED_AT, promoted, promoted=True)
    if until_signed:
        b.signed("P-PRO", T5, at("2019-10-15T12:00:00"))
    return b.events


def wire(event: Event) -> dict:
    """The JSON payload a producer publishes (through JSON text, as on the broker)."""
    return json.loads(json.dumps(dump(event)))


def publish(amqp_uri: str, events: list[Event]) -> None:
    """Publish events as their producers do: to ``<producer>.events`` with the event type
    as routing key, persistent, each confirmed by the broker."""
    from kombu import Connection

    from shared.messaging.topology import event_exchange

    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(wire(event), exchange=event_exchange(event.producer),
                             routing_key=event.routing_key(), serializer="json",
                             delivery_mode=2, message_id=event.event_id)


def publish_unreadable(amqp_uri: str) -> str:
    """A message no consumer can load (its event id is not a uuid): dead-lettered at once."""
    from kombu import Connection

    from shared.messaging.topology import event_exchange

    event_id = "not-a-uuid"
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish({"event_type": "proposal_submitted", "event_id": event_id},
                                exchange=event_exchange("submission"),
                                routing_key="proposal_submitted", serializer="json")
    return event_id
