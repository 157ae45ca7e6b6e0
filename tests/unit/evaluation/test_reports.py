"""Individual evaluation reports: validation, finality, who may write."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.evaluation.domain.conflicts import ConflictCheck, ConflictReason
from services.evaluation.domain.reports import (
    NotAllowed, ReportError, ReportLocked, finalise, report_submitted_event, save_draft)
from shared.calls.model import Criterion, EvaluationRules
from shared.events.schemas import EvaluationReportSubmittedSchema

AMIF = (("relevance", 30, 21), ("quality", 20, None), ("cost_effectiveness", 15, None),
        ("added_value", 15, None), ("results_impact", 20, None))
RULES = EvaluationRules(2, tuple(Criterion(i, i, Decimal(m), t and Decimal(t)) for i, m, t in AMIF),
                        Decimal(70), tuple(i for i, _, _ in AMIF))
NOW = datetime(2019, 2, 20, 10, 0, tzinfo=timezone.utc)
CLEAR = ConflictCheck("E-1", "P-1", ())
ASSIGNED = {"E-1", "E-2"}
FULL_SCORES = {"relevance": 25, "quality": "15.5", "cost_effectiveness": Decimal("12"),
               "added_value": 12.5, "results_impact": 16}
FULL_COMMENTS = {c: f"Sound argument on {c}." for c, _, _ in AMIF}


def draft(scores=None, comments=None, current=None, **kw):
    args = dict(proposal_id="P-1", expert_id="E-1", rules=RULES, now=NOW,
                assigned_expert_ids=ASSIGNED, conflict=CLEAR)
    return save_draft(current, scores=FULL_SCORES if scores is None else scores,
                      comments=FULL_COMMENTS if comments is None else comments, **{**args, **kw})


def final(report, **kw):
    args = dict(rules=RULES, now=NOW + timedelta(hours=1), assigned_expert_ids=ASSIGNED,
                conflict=CLEAR)
    return finalise(report, **{**args, **kw})


def issues_of(call) -> list[str]:
    with pytest.raises(ReportError) as exc:
        call()
    return list(exc.value.issues)


# ------------------------------------------------------------------ scores
def test_draft_keeps_valid_scores_as_decimals():
    report = draft()
    assert report.scores == {"relevance": Decimal("25.0"), "quality": Decimal("15.5"),
                             "cost_effectiveness": Decimal("12.0"),
                             "added_value": Decimal("12.5"), "results_impact": Decimal("16.0")}
    assert report.total == Decimal("81.0") and not report.final


@pytest.mark.parametrize("value, message", [
    (31, "criteria.relevance.score: 31 is above the maximum 30"),
    ("30.5", "criteria.relevance.score: 30.5 is above the maximum 30"),
    (-1, "criteria.relevance.score: -1 is below the minimum 0"),
    ("-0.5", "criteria.relevance.score: -0.5 is below the minimum 0"),
    (20.3, "criteria.relevance.score: 20.3 is not a multiple of 0.5"),
    ("20.25", "criteria.relevance.score: 20.25 is not a multiple of 0.5"),
    ("twenty", "criteria.relevance.score: 'twenty' is not a number"),
    (True, "criteria.relevance.score: True is not a number"),
    ("NaN", "criteria.relevance.score: 'NaN' is not a number"),
    (float("inf"), "criteria.relevance.score: inf is not a number"),
])
def test_invalid_score_names_criterion_and_rule(value, message):
    assert issues_of(lambda: draft({**FULL_SCORES, "relevance": value})) == [message]


@pytest.mark.parametrize("value", [0, "0.0", 30, Decimal("29.5"), 0.5])
def test_boundary_scores_are_accepted(value):
    assert draft({**FULL_SCORES, "relevance": value}).scores["relevance"] == Decimal(str(value))


def test_all_problems_are_reported_together():
    assert issues_of(lambda: draft({"relevance": 40, "quality": 21, "originality": 5},
                                   {"relevance": 42})) == [
        "criteria.originality: is not a criterion of this call",
        "criteria.relevance.score: 40 is above the maximum 30",
        "criteria.quality.score: 21 is above the maximum 20",
        "criteria.relevance.comment: must be text"]


def test_a_draft_may_be_incomplete_and_is_replaced_wholesale():
    first = draft({"relevance": 20}, {"relevance": "short"})
    second = draft({"quality": 10}, {}, current=first)
    assert second.scores == {"quality": Decimal("10.0")} and second.comments == {}


# ------------------------------------------------------------------ finalising
def test_finalise_requires_every_score_and_a_long_enough_comment():
    report = draft({"relevance": 20}, {"relevance": "Too short", "quality": "   "})
    assert issues_of(lambda: final(report)) == [
        "criteria.relevance.comment: must be at least 10 characters (has 9)",
        "criteria.quality.score: is required", "criteria.quality.comment: is required",
        "criteria.cost_effectiveness.score: is required",
        "criteria.cost_effectiveness.comment: is required",
        "criteria.added_value.score: is required", "criteria.added_value.comment: is required",
        "criteria.results_impact.score: is required",
        "criteria.results_impact.comment: is required"]


def test_minimum_comment_length_is_configurable_and_inclusive():
    comments = {**FULL_COMMENTS, "quality": "exactly 10"}
    assert final(draft(comments=comments)).final
    assert issues_of(lambda: final(draft(comments=comments), min_comment_length=11)) == [
        "criteria.quality.comment: must be at least 11 characters (has 10)"]


def test_final_report_is_locked():
    done = final(draft())
    assert done.final and done.finalised_at == NOW + timedelta(hours=1)
    with pytest.raises(ReportLocked, match="final and cannot be edited"):
        draft(current=done)
    with pytest.raises(ReportLocked, match="already final"):
        final(done)


# ------------------------------------------------------------------ who may write
def test_only_an_assigned_expert_may_write():
    with pytest.raises(NotAllowed, match="not assigned"):
        draft(assigned_expert_ids={"E-2", "E-3"})


def test_a_conflicted_expert_may_not_write_even_if_assigned():
    conflicted = ConflictCheck("E-1", "P-1", (ConflictReason("expert", "declared", "x"),))
    with pytest.raises(NotAllowed, match="conflict of interest"):
        draft(conflict=conflicted)


def test_access_is_checked_again_when_finalising():
    report = draft()
    with pytest.raises(NotAllowed):
        final(report, assigned_expert_ids={"E-2"})  # released after saving the draft


def test_conflict_check_must_be_for_this_pair():
    with pytest.raises(ValueError, match="another expert or proposal"):
        draft(conflict=ConflictCheck("E-1", "P-2", ()))


def test_current_report_must_be_the_same_report():
    other = draft(expert_id="E-2", conflict=ConflictCheck("E-2", "P-1", ()))
    with pytest.raises(ValueError, match="another proposal, expert or kind"):
        draft(current=other)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        draft(now=datetime(2019, 2, 20))


def test_submitted_event_matches_the_contract():
    event = report_submitted_event(final(draft()), call_id="AMIF-2018-AG-INTE",
                                   topic_id="AMIF-2018-AG-INTE-1", now=NOW)
    payload = EvaluationReportSubmittedSchema().dump(event)
    assert payload["total"] == "81.0" and payload["final"] is True
    assert EvaluationReportSubmittedSchema().load(payload).expert_id == "E-1"
