"""A realistic AMIF-2018-AG-INTE-1 call and ranking entries for the grants domain tests."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.calls.model import (Call, Criterion, EvaluationRules, GrantRules, Stage, Topic)
from shared.events import RankingPublished

BRUSSELS = ZoneInfo("Europe/Brussels")
AUTHORITY = "grants-authority@home-affairs.example.eu"
RANKED_AT = datetime(2019, 6, 20, 10, 0, tzinfo=timezone.utc)
INFORMED_AT = datetime(2019, 7, 1, 9, 0, tzinfo=BRUSSELS)


def make_call(**grant_rules) -> Call:
    rules = dict(cofinancing_cap=Decimal("0.90"), preparation_days=60, signature_days=120,
                 prefinancing_rate=Decimal("0.40"))
    rules.update(grant_rules)
    return Call(
        id="AMIF-2018-AG-INTE", version=1, title="Integration of third-country nationals",
        timezone="Europe/Brussels", currency="EUR", budget=Decimal("16200000"),
        topics=(Topic("AMIF-2018-AG-INTE-1", "Local and regional integration networks",
                      Decimal("6000000")),),
        timetable=(
            Stage("publication", "Publication", datetime(2018, 7, 26, 0, 0, tzinfo=BRUSSELS)),
            Stage("submission_deadline", "Submission deadline",
                  datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)),
            Stage("information_to_applicants", "Information to applicants", INFORMED_AT,
                  datetime(2019, 7, 31, 17, 0, tzinfo=BRUSSELS)),
        ),
        required_parts=("part_a", "part_b", "budget"), eligibility=(),
        evaluation=EvaluationRules(
            evaluators_per_proposal=2,
            criteria=(Criterion("relevance", "Relevance", Decimal(30), Decimal(21)),),
            overall_threshold=Decimal(70), tie_break=("relevance",)),
        grants=GrantRules(**rules))


def entry(proposal_id: str, rank: int, requested: str, costs: str | None = None,
          duration: int = 36) -> dict:
    """A ranking entry as ``RankingEntrySchema`` loads it."""
    costs = costs or str(Decimal(requested) / Decimal("0.8"))
    acronym = f"NET-{proposal_id}"
    return {
        "proposal_id": proposal_id, "rank": rank, "total": Decimal("80"),
        "scores": {"relevance": Decimal("25")}, "tie_break": None,
        "requested_grant": Decimal(requested), "total_eligible_costs": Decimal(costs),
        "duration_months": duration, "acronym": acronym,
        "contact_emails": [f"office@{proposal_id.lower()}.example.org",
                           f"Coord@{proposal_id.lower()}.example.org"],
        "participants": [
            {"role": "coordinator", "legal_name": f"City of {proposal_id}",
             "organisation_id": f"PIC-{proposal_id}-1", "country": "IT",
             "entity_type": "public_body", "local_or_regional_authority": True,
             "experienced_in_integration": True,
             "contact_email": f"coord@{proposal_id.lower()}.example.org"},
            {"role": "co_applicant", "legal_name": f"Region of {proposal_id}",
             "organisation_id": f"PIC-{proposal_id}-2", "country": "DE",
             "entity_type": "public_body", "local_or_regional_authority": True,
             "experienced_in_integration": False,
             "contact_email": f"partner@{proposal_id.lower()}.example.org"},
        ],
        "failed_thresholds": [],
    }


def ranking(main: list[dict], reserve: list[dict], budget: str = "6000000") -> RankingPublished:
    return RankingPublished(
        call_id="AMIF-2018-AG-INTE", correlation_id="AMIF-2018-AG-INTE-1",
        occurred_at=RANKED_AT, topic_id="AMIF-2018-AG-INTE-1", budget=Decimal(budget),
        main=main, reserve=reserve, rejected=[],
        funded_total=sum((e["requested_grant"] for e in main), Decimal(0)))
