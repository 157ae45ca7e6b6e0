"""Consensus: mean and rapporteur, spread and its resolutions, thresholds, the event."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.evaluation.domain.consensus import (
    COMPLETE, NEEDS_SPREAD_RESOLUTION, WAITING_FOR_RAPPORTEUR, WAITING_FOR_REPORTS, assess,
    check_thresholds, completed_event, explain_failures, record_consensus_note)
from services.evaluation.domain.reports import Report
from shared.calls.model import Criterion, EvaluationRules
from shared.events.schemas import EvaluationCompletedSchema

AMIF = (("relevance", 30, 21), ("quality", 20, None), ("cost_effectiveness", 15, None),
        ("added_value", 15, None), ("results_impact", 20, None))
IDS = [i for i, _, _ in AMIF]
RULES = EvaluationRules(2, tuple(Criterion(i, i, Decimal(m), t and Decimal(t)) for i, m, t in AMIF),
                        Decimal(70), tuple(IDS), spread_threshold=Decimal(20))
T0 = datetime(2019, 3, 1, 12, 0, tzinfo=timezone.utc)


def scores(*values) -> dict:
    return dict(zip(IDS, (Decimal(str(v)) for v in values)))


def report(expert, values, *, final=True, kind="individual", pid="P-1", minute=0, note="ok"):
    return Report(pid, expert, scores(*values), {c: f"{note} on {c} from {expert}" for c in IDS},
                  T0 + timedelta(minutes=minute), kind, final,
                  T0 + timedelta(minutes=minute) if final else None)


def run(reports, assigned=("E-1", "E-2"), rules=RULES, **kw):
    return assess("P-1", rules, reports=reports, assigned_expert_ids=set(assigned), **kw)


# ------------------------------------------------------------------ mean
def test_mean_per_criterion_and_total():
    status = run([report("E-1", (24, 15, 12, 12, 15)), report("E-2", (27, 16.5, 11, 13, 16))])
    assert status.state == COMPLETE and status.complete
    result = status.result
    assert result.scores == scores("25.50", "15.75", "11.50", "12.50", "15.50")
    assert result.total == Decimal("80.75") and result.passed and result.method == "mean"
    assert result.report_count == 2 and not result.spread_flagged


def test_mean_rounds_half_up_to_a_cent():
    # four evaluators: 20.125 is exactly half-way (banker's rounding would give 20.12)
    # three evaluators: 20.3333... rounds to 20.33, 20.6666... to 20.67
    four = run([report(f"E-{i}", (v, 10, 10, 10, 10)) for i, v in
                enumerate((20, 20, 20, 20.5), 1)], assigned=("E-1", "E-2", "E-3", "E-4"))
    assert four.result.scores["relevance"] == Decimal("20.13")
    three = run([report(f"E-{i}", (r, q, 10, 10, 10)) for i, (r, q) in
                 enumerate(((20, 10), (20.5, 10.5), (20.5, 10.5)), 1)], assigned=("E-1", "E-2", "E-3"))
    assert (three.result.scores["relevance"], three.result.scores["quality"]) == (
        Decimal("20.33"), Decimal("10.33"))
    assert three.result.total == Decimal("60.66")  # sum of the rounded scores


def test_mean_comments_join_every_report_without_names():
    result = run([report("E-1", (24, 15, 12, 12, 15), note="Clear aims"),
                  report("E-2", (24, 15, 12, 12, 15), note="Weak plan")]).result
    assert result.comments["quality"] == "Clear aims on quality from E-1\n\nWeak plan on quality from E-2"


# ------------------------------------------------------------------ waiting
def test_waits_for_every_assigned_evaluator_and_ignores_drafts():
    status = run([report("E-1", (24, 15, 12, 12, 15)), report("E-2", (24, 15, 12, 12, 15), final=False)])
    assert status.state == WAITING_FOR_REPORTS and status.missing_reports == ("E-2",)
    assert status.result is None


def test_waits_until_the_minimum_number_of_evaluators_is_assigned():
    status = run([report("E-1", (24, 15, 12, 12, 15))], assigned=("E-1",))
    assert status.state == WAITING_FOR_REPORTS and status.evaluators_short == 1


def test_reports_of_released_experts_and_other_proposals_do_not_count():
    status = run([report("E-1", (24, 15, 12, 12, 15)), report("E-2", (24, 15, 12, 12, 15)),
                  report("E-3", (0, 0, 0, 0, 0)), report("E-1", (0, 0, 0, 0, 0), pid="P-2")])
    assert status.result.report_count == 2 and status.result.total == Decimal(78)


# ------------------------------------------------------------------ spread
def test_spread_exactly_at_the_threshold_is_not_flagged():
    status = run([report("E-1", (20, 10, 10, 10, 10)), report("E-2", (30, 15, 10, 15, 10))])
    assert status.spread.value == Decimal(20) and status.state == COMPLETE
    assert not status.result.spread_flagged and status.result.resolutions == ()


def flagged_pair():
    return [report("E-1", (20, 10, 10, 10, 10)), report("E-2", (30, 15, 10, 15, 10.5))]


def test_spread_above_the_threshold_blocks_completion():
    status = run(flagged_pair())
    assert status.state == NEEDS_SPREAD_RESOLUTION and status.spread.value == Decimal("20.5")
    assert status.spread.flagged and status.result is None


def test_extra_evaluator_resolves_the_spread_and_joins_the_mean():
    reports = flagged_pair() + [report("E-3", (26, 12, 10, 12, 10))]
    waiting = run(reports[:2], assigned=("E-1", "E-2", "E-3"), extra_evaluator_ids={"E-3"})
    assert waiting.state == WAITING_FOR_REPORTS and waiting.missing_reports == ("E-3",)
    result = run(reports, assigned=("E-1", "E-2", "E-3"), extra_evaluator_ids={"E-3"}).result
    assert result.report_count == 3 and result.scores["relevance"] == Decimal("25.33")
    assert result.spread_flagged and result.resolutions == ("extra_evaluator",)


def test_consensus_note_resolves_the_spread():
    note = record_consensus_note("P-1", "Panel agreed the work plan is weak.",
                                 recorded_by="ops-2", now=T0)
    result = run(flagged_pair(), note=note).result
    assert result.spread_flagged and result.resolutions == ("consensus_note",)
    assert result.report_count == 2 and result.scores["relevance"] == Decimal(25)


def test_a_note_for_another_proposal_resolves_nothing():
    note = record_consensus_note("P-9", "Panel agreed elsewhere.", recorded_by="ops", now=T0)
    assert run(flagged_pair(), note=note).state == NEEDS_SPREAD_RESOLUTION


def test_consensus_note_is_validated():
    with pytest.raises(ValueError, match="at least 10 characters"):
        record_consensus_note("P-1", " agreed ", recorded_by="ops", now=T0)
    with pytest.raises(ValueError, match="recorded_by"):
        record_consensus_note("P-1", "Panel agreed on it.", recorded_by=" ", now=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        record_consensus_note("P-1", "Panel agreed on it.", recorded_by="o", now=datetime(2019, 3, 1))


# ------------------------------------------------------------------ rapporteur
RAPPORTEUR = replace(RULES, consensus_method="rapporteur")


def test_rapporteur_report_gives_the_scores_and_comments():
    reports = [report("E-1", (24, 15, 12, 12, 15)), report("E-2", (27, 16, 11, 13, 16))]
    assert run(reports, rules=RAPPORTEUR).state == WAITING_FOR_RAPPORTEUR
    draft = report("R-1", (26, 16, 12, 13, 15), final=False, kind="consensus")
    assert run(reports, rules=RAPPORTEUR, consensus_report=draft).state == WAITING_FOR_RAPPORTEUR
    agreed = report("R-1", (26, 16, 12, 13, 15), kind="consensus", note="Agreed")
    result = run(reports, rules=RAPPORTEUR, consensus_report=agreed).result
    assert result.method == "rapporteur" and result.total == Decimal(82)
    assert result.scores == scores(26, 16, 12, 13, 15)
    assert result.comments["relevance"] == "Agreed on relevance from R-1"


def test_rapporteur_method_still_needs_a_resolved_spread():
    agreed = report("R-1", (26, 16, 12, 13, 15), kind="consensus")
    assert run(flagged_pair(), rules=RAPPORTEUR, consensus_report=agreed).state == \
        NEEDS_SPREAD_RESOLUTION


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="consensus method"):
        run(flagged_pair(), rules=replace(RULES, consensus_method="vote"))


# ------------------------------------------------------------------ thresholds
@pytest.mark.parametrize("values, failed", [
    ((21, 14, 10, 10, 15), ()),                           # relevance and total exactly at threshold
    ((20.5, 14.5, 10, 10, 15), ("relevance",)),           # relevance below, total 70
    ((30, 10, 10, 10, 9.5), ("overall",)),                # total 69.5
    ((20, 10, 10, 10, 10), ("relevance", "overall")),     # both, criterion order then overall
])
def test_thresholds_per_criterion_and_overall(values, failed):
    check = check_thresholds(scores(*values), RULES)
    assert check.failed == failed and check.passed == (not failed)


def test_threshold_on_a_criterion_without_one_never_fails():
    assert check_thresholds(scores(30, 0, 15, 15, 20), RULES).failed == ()


def test_failures_are_explained_in_words():
    assert explain_failures(scores(20, 10, 10, 10, 10), RULES) == [
        "relevance: 20.0 is below the threshold 21.0",
        "overall: total 60.0 is below the threshold 70.0"]


def test_missing_score_is_an_error():
    with pytest.raises(ValueError, match="quality"):
        check_thresholds({"relevance": Decimal(25)}, RULES)


def test_failed_consensus_lists_the_thresholds():
    result = run([report("E-1", (20, 10, 10, 10, 10)), report("E-2", (21, 10, 10, 10, 10))]).result
    assert result.scores["relevance"] == Decimal("20.50")
    assert result.failed_thresholds == ("relevance", "overall") and not result.passed


# ------------------------------------------------------------------ the event
def test_completed_event_matches_the_contract():
    result = run(flagged_pair(), note=record_consensus_note(
        "P-1", "Discussed and agreed.", recorded_by="ops", now=T0)).result
    event = completed_event(result, call_id="AMIF-2018-AG-INTE", topic_id="AMIF-2018-AG-INTE-1",
                            acronym="NET", contact_emails=["c@bari.it"], now=T0)
    payload = EvaluationCompletedSchema().dump(event)
    assert payload["scores"]["relevance"] == "25.00" and payload["total"] == "70.25"
    assert payload["passed"] is True and payload["failed_thresholds"] == []
    assert payload["spread_flagged"] is True and payload["method"] == "mean"
    assert payload["correlation_id"] == "P-1"
    loaded = EvaluationCompletedSchema().load(payload)
    assert loaded.scores == dict(result.scores)


# ------------------------------------------------------------------ properties
half_points = st.integers(0, 30).map(lambda n: Decimal(n) / 2)  # 0 .. 15 in halves


@given(st.lists(st.tuples(*[half_points] * 5), min_size=2, max_size=5))
def test_mean_lies_between_the_reports_and_total_adds_up(rows):
    reports = [report(f"E-{i}", row) for i, row in enumerate(rows)]
    rules = replace(RULES, spread_threshold=Decimal(100))
    result = run(reports, assigned=[r.expert_id for r in reports], rules=rules).result
    for cid in IDS:
        values = [r.scores[cid] for r in reports]
        assert min(values) <= result.scores[cid] <= max(values)
        assert abs(result.scores[cid] - sum(values) / len(values)) <= Decimal("0.005")
    assert result.total == sum(result.scores.values())
    assert result.passed == (result.total >= 70 and result.scores["relevance"] >= 21)
