"""Builders for submission tests, over the bundled AMIF-2018-AG-INTE call."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.submission.domain.proposal import (FrozenProposal, Part, Participant, Proposal,
                                                 ProposalContent)
from shared.calls.loader import load_default_call
from shared.calls.model import Call

BRUSSELS = ZoneInfo("Europe/Brussels")
CALL = load_default_call()
TOPIC_1, TOPIC_2, TOPIC_3 = (f"{CALL.id}-{n}" for n in (1, 2, 3))
BEFORE = datetime(2019, 1, 15, 12, 0, tzinfo=BRUSSELS)  # during submission
ON_TIME = datetime(2019, 1, 31, 16, 59, 59, tzinfo=BRUSSELS)
AT_DEADLINE = datetime(2019, 1, 31, 17, 0, 0, tzinfo=BRUSSELS)


def participant(name: str, country: str = "BE", *, entity_type: str = "public_body",
                lra: bool = True, experienced: bool = False, org: str | None = None,
                email: str | None = None) -> Participant:
    return Participant(legal_name=name, organisation_id=org or f"ORG-{name.upper()}",
                       country=country, entity_type=entity_type,
                       local_or_regional_authority=lra, experienced_in_integration=experienced,
                       contact_email=email or f"{name.lower()}@example.eu")


def part(name: str, size: int = 1000, body: bytes | None = None) -> Part:
    return Part(name, hashlib.sha256(body or name.encode()).hexdigest(), size)


def content(coordinator: Participant | None = None,
            co_applicants: tuple[Participant, ...] | None = None, **overrides) -> ProposalContent:
    """A proposal that passes every rule of topic 1 unless overridden."""
    fields = dict(
        acronym="NETINT", title="Network for integration", abstract="Cities learn together.",
        coordinator=coordinator or participant("Ghent", "BE", experienced=True),
        co_applicants=co_applicants if co_applicants is not None else (
            participant("Lyon", "FR"), participant("Bologna", "IT")),
        integration_areas=("housing", "labour_market"), duration_months=24,
        total_eligible_costs=Decimal("1000000.00"), requested_grant=Decimal("800000.00"),
        parts=(part("part_a"), part("part_b"), part("budget")))
    fields.update(overrides)
    return ProposalContent(**fields)


def frozen(body: ProposalContent | None = None, *, proposal_id: str = "P-1",
           topic_id: str = TOPIC_1, received_at: datetime = ON_TIME) -> FrozenProposal:
    return FrozenProposal.of(proposal_id, CALL.id, topic_id, body or content(), received_at)


def draft(body: ProposalContent | None = None, *, proposal_id: str = "P-1",
          topic_id: str = TOPIC_1) -> Proposal:
    return Proposal.create_draft(proposal_id=proposal_id, call_id=CALL.id, topic_id=topic_id,
                                 content=body or content(), now=BEFORE, deadline=CALL.deadline)


def with_deadline(call: Call, deadline: datetime) -> Call:
    """``call`` with its submission deadline moved (as an amendment would)."""
    timetable = tuple(dataclasses.replace(s, starts_at=deadline)
                      if s.name == "submission_deadline" else s for s in call.timetable)
    return dataclasses.replace(call, timetable=timetable)


def only_rule(call: Call, rule_id: str) -> Call:
    """``call`` keeping one eligibility rule, to test it alone."""
    return dataclasses.replace(call, eligibility=tuple(r for r in call.eligibility
                                                       if r.id == rule_id))


__all__ = ["BRUSSELS", "CALL", "TOPIC_1", "TOPIC_2", "TOPIC_3", "BEFORE", "ON_TIME",
           "AT_DEADLINE", "participant", "part", "content", "frozen", "draft",
           "with_deadline", "only_rule"]
