"""A realistic AMIF-2018-AG-INTE-1 call for the grants domain tests; ranking entries come
from tests.support.grants_events (shared with the handler and integration tests)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.calls.model import (Call, Criterion, EvaluationRules, GrantRules, Stage, Topic)
from tests.support.grants_events import RANKED_AT, entry, ranking  # noqa: F401

BRUSSELS = ZoneInfo("Europe/Brussels")
AUTHORITY = "grants-authority@home-affairs.example.eu"
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
