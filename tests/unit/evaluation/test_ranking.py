"""Ranking: order and tie-breaks, funding within the topic budget, the published event."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.evaluation.domain.ranking import (
    Candidate, grant_amount, order_passing, rank_topic, ranking_event)
from shared.calls.model import Criterion, EvaluationRules, GrantRules, Topic
from shared.events.schemas import RankingPublishedSchema

AMIF = (("relevance", 30, 21), ("quality", 20, None), ("cost_effectiveness", 15, None),
        ("added_value", 15, None), ("results_impact", 20, None))
IDS = [i for i, _, _ in AMIF]
RULES = EvaluationRules(2, tuple(Criterion(i, i, Decimal(m), t and Decimal(t)) for i, m, t in AMIF),
                        Decimal(70), tuple(IDS))
GRANTS = GrantRules(cofinancing_cap=Decimal("0.9"), preparation_days=30, signature_days=60,
                    prefinancing_rate=Decimal("0.5"))
TOPIC = Topic("AMIF-2018-AG-INTE-1", "Local and regional integration networks", Decimal(6_000_000))
T0 = datetime(2019, 1, 31, 15, 0, tzinfo=timezone.utc)


def cand(pid, values, *, grant=600_000, costs=None, minutes=0, topic=TOPIC.id) -> Candidate:
    """``grant`` is the requested grant; costs default so that the cap does not bite."""
    costs = Decimal(costs) if costs is not None else Decimal(grant) * 2
    return Candidate(pid, topic, dict(zip(IDS, (Decimal(str(v)) for v in values))),
                     T0 - timedelta(minutes=minutes), Decimal(grant), costs, 36, f"ACR-{pid}",
                     (f"{pid.lower()}@example.org",))


def topic(budget) -> Topic:
    return replace(TOPIC, budget=Decimal(budget))


def ids(entries) -> list[str]:
    return [e.proposal_id for e in entries]


# ------------------------------------------------------------------ order
def test_passing_proposals_are_ordered_by_total():
    ranking = rank_topic(TOPIC, [cand("P-1", (22, 14, 10, 10, 15)), cand("P-2", (28, 18, 14, 14, 18)),
                                 cand("P-3", (25, 15, 12, 12, 15))], RULES, GRANTS)
    assert ids(ranking.main) == ["P-2", "P-3", "P-1"]
    assert [e.rank for e in ranking.main] == [1, 2, 3]
    assert [e.total for e in ranking.main] == [Decimal(92), Decimal(79), Decimal(71)]
    assert all(e.tie_break is None for e in ranking.main)


def test_tie_on_total_broken_by_relevance_is_recorded_both_ways():
    ordered = order_passing([cand("P-7", (25.5, 20, 15, 10, 14.5)),
                             cand("P-3", (27, 18, 15, 10, 15))], RULES)
    assert [(c.proposal_id, text) for c, text in ordered] == [
        ("P-3", "tie on total 85.0 with P-7 broken by relevance 27.0 > 25.5"),
        ("P-7", "tie on total 85.0 with P-3 broken by relevance 25.5 < 27.0")]


@pytest.mark.parametrize("step", range(4))  # the last criterion can never decide alone
def test_each_tie_break_criterion_decides_in_its_turn(step):
    base = [24, 16, 12, 12, 16]  # 80
    better, worse = list(base), list(base)
    better[step] += 1
    better[-1] -= 1  # same total; everything before `step` equal
    ordered = order_passing([cand("P-1", worse), cand("P-2", better)], RULES)
    assert [c.proposal_id for c, _ in ordered] == ["P-2", "P-1"]
    name = IDS[step]
    assert ordered[0][1] == (f"tie on total 80.0 with P-1 broken by {name} "
                             f"{better[step]:.1f} > {worse[step]:.1f}")


def test_configured_tie_break_order_is_followed():
    rules = replace(RULES, tie_break=("quality", "relevance"))
    ordered = order_passing([cand("P-1", (27, 15, 12, 12, 14)), cand("P-2", (25, 17, 12, 12, 14))],
                            rules)
    assert [c.proposal_id for c, _ in ordered] == ["P-2", "P-1"]
    assert "broken by quality 17.0 > 15.0" in ordered[0][1]


def test_full_tie_falls_back_to_earlier_receipt_then_proposal_id():
    same = (24, 16, 12, 12, 16)
    ordered = order_passing([cand("P-2", same, minutes=0), cand("P-9", same, minutes=30),
                             cand("P-1", same, minutes=0)], RULES)
    assert [c.proposal_id for c, _ in ordered] == ["P-9", "P-1", "P-2"]
    texts = [t for _, t in ordered]
    assert texts[0] == ("tie on total 80.0 with P-1 broken by receipt time "
                        "2019-01-31T14:30:00+00:00 < 2019-01-31T15:00:00+00:00")
    assert texts[1] == "tie on total 80.0 with P-2 broken by proposal id P-1 < P-2"
    assert texts[2] == "tie on total 80.0 with P-1 broken by proposal id P-2 > P-1"


def test_receipt_times_in_other_zones_compare_as_instants():
    brussels = timezone(timedelta(hours=1))
    early = replace(cand("P-2", (24, 16, 12, 12, 16)), received_at=datetime(2019, 1, 31, 15, 30, tzinfo=brussels))
    late = cand("P-1", (24, 16, 12, 12, 16))  # 15:00 UTC, i.e. later than 14:30 UTC
    assert [c.proposal_id for c, _ in order_passing([late, early], RULES)] == ["P-2", "P-1"]


@given(st.permutations(list(range(6))))
def test_order_does_not_depend_on_input_order(perm):
    pool = [cand(f"P-{i}", (24 + i % 2, 16, 12, 12, 16 - i % 2), minutes=i % 3) for i in range(6)]
    assert order_passing([pool[i] for i in perm], RULES) == order_passing(pool, RULES)


# ------------------------------------------------------------------ budget
def test_grant_is_capped_by_cofinancing_and_rounded_down():
    assert grant_amount(Decimal(1_000_000), Decimal(1_000_000), GRANTS) == Decimal(900_000)
    assert grant_amount(Decimal(500_000), Decimal(1_000_000), GRANTS) == Decimal(500_000)
    assert grant_amount(Decimal(999_999), Decimal("100.01"), GRANTS) == Decimal("90.00")


def three(first=500_000, second=400_000, third=100_000):
    return [cand("P-1", (28, 18, 14, 14, 18), grant=first),    # 92
            cand("P-2", (26, 17, 13, 13, 17), grant=second),   # 86
            cand("P-3", (24, 16, 12, 12, 16), grant=third)]    # 80


@pytest.mark.parametrize("rule", ["strict_rank", "skip_to_fit"])
def test_proposal_exactly_exhausting_the_budget_is_funded(rule):
    ranking = rank_topic(topic(1_000_000), three(), replace(RULES, budget_rule=rule), GRANTS)
    assert ids(ranking.main) == ["P-1", "P-2", "P-3"] and ranking.reserve == ()
    assert ranking.funded_total == Decimal(1_000_000)


def test_strict_rank_sends_the_first_misfit_and_everything_below_to_reserve():
    ranking = rank_topic(topic(950_000), three(second=500_000), RULES, GRANTS)
    assert ids(ranking.main) == ["P-1"] and ids(ranking.reserve) == ["P-2", "P-3"]
    assert [e.rank for e in ranking.reserve] == [2, 3]
    assert ranking.funded_total == Decimal(500_000)
    assert ranking.placement("P-3").reserve_position == 2


def test_skip_to_fit_still_funds_later_smaller_proposals():
    ranking = rank_topic(topic(950_000), three(second=500_000),
                         replace(RULES, budget_rule="skip_to_fit"), GRANTS)
    assert ids(ranking.main) == ["P-1", "P-3"] and ids(ranking.reserve) == ["P-2"]
    assert [e.rank for e in ranking.main] == [1, 3]
    assert ranking.funded_total == Decimal(600_000)


def test_budget_uses_the_capped_grant_not_the_request():
    # requested 1,000,000 on 1,000,000 costs: the grant is 900,000, which fits 900,000
    ranking = rank_topic(topic(900_000), [cand("P-1", (28, 18, 14, 14, 18), grant=1_000_000,
                                                costs=1_000_000)], RULES, GRANTS)
    assert ids(ranking.main) == ["P-1"] and ranking.funded_total == Decimal(900_000)


def test_first_proposal_larger_than_the_whole_budget():
    ranking = rank_topic(topic(300_000), three(), replace(RULES, budget_rule="skip_to_fit"), GRANTS)
    assert ids(ranking.main) == ["P-3"] and ids(ranking.reserve) == ["P-1", "P-2"]
    strict = rank_topic(topic(300_000), three(), RULES, GRANTS)
    assert strict.main == () and ids(strict.reserve) == ["P-1", "P-2", "P-3"]
    assert strict.funded_total == Decimal(0)


def test_empty_topic():
    ranking = rank_topic(TOPIC, [], RULES, GRANTS)
    assert (ranking.main, ranking.reserve, ranking.rejected) == ((), (), ())
    assert ranking.funded_total == Decimal(0)


def test_all_failing_are_rejected_with_their_thresholds():
    ranking = rank_topic(TOPIC, [cand("P-1", (20, 20, 15, 15, 20)), cand("P-2", (25, 10, 10, 10, 10)),
                                 cand("P-3", (15, 10, 10, 10, 10))], RULES, GRANTS)
    assert ranking.main == () and ranking.reserve == () and ranking.funded_total == 0
    assert [(e.proposal_id, e.rank, e.failed_thresholds) for e in ranking.rejected] == [
        ("P-1", None, ("relevance",)), ("P-2", None, ("overall",)),
        ("P-3", None, ("relevance", "overall"))]


def test_boundary_scores_pass_and_are_ranked():
    ranking = rank_topic(TOPIC, [cand("P-1", (21, 14, 10, 10, 15)), cand("P-2", (20.5, 14.5, 10, 10, 15))],
                         RULES, GRANTS)
    assert ids(ranking.main) == ["P-1"] and ids(ranking.rejected) == ["P-2"]


# ------------------------------------------------------------------ validation, event
@pytest.mark.parametrize("change, message", [
    (dict(budget_rule="lottery"), "budget rule"), (dict(tie_break=("beauty",)), "beauty")])
def test_bad_rules_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        rank_topic(TOPIC, [cand("P-1", (28, 18, 14, 14, 18))], replace(RULES, **change), GRANTS)


def test_bad_candidates_are_refused():
    with pytest.raises(ValueError, match="belongs to topic"):
        rank_topic(TOPIC, [cand("P-1", (28, 18, 14, 14, 18), topic="AMIF-2018-AG-INTE-2")], RULES, GRANTS)
    with pytest.raises(ValueError, match="twice"):
        rank_topic(TOPIC, [cand("P-1", (28, 18, 14, 14, 18))] * 2, RULES, GRANTS)
    naive = replace(cand("P-1", (28, 18, 14, 14, 18)), received_at=datetime(2019, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        rank_topic(TOPIC, [naive], RULES, GRANTS)


def test_ranking_event_matches_the_contract():
    pool = three(second=500_000) + [cand("P-4", (15, 10, 10, 10, 10))]
    ranking = rank_topic(topic(950_000), pool, RULES, GRANTS)
    event = ranking_event(ranking, call_id="AMIF-2018-AG-INTE", now=T0)
    payload = RankingPublishedSchema().dump(event)
    assert payload["funded_total"] == "500000.00" and payload["budget"] == "950000.00"
    assert [e["proposal_id"] for e in payload["reserve"]] == ["P-2", "P-3"]
    assert payload["rejected"][0]["failed_thresholds"] == ["relevance", "overall"]
    assert payload["rejected"][0]["rank"] is None
    loaded = RankingPublishedSchema().load(payload)
    assert [e["rank"] for e in loaded.main + loaded.reserve] == [1, 2, 3]


def test_only_the_fundable_entries_carry_their_participants():
    # grant preparation needs the main and reserve lists' beneficiaries; a rejected
    # proposal's partners go nowhere (and were most of a big topic's ranking's bytes)
    partner = {"role": "coordinator", "organisation_id": "FR-1", "country": "FR",
               "legal_name": "Ville de Lyon", "contact_email": "europe@lyon.example"}
    pool = [replace(c, participants=(partner,))
            for c in three(second=500_000) + [cand("P-4", (15, 10, 10, 10, 10))]]
    ranking = rank_topic(topic(950_000), pool, RULES, GRANTS)
    payload = RankingPublishedSchema().dump(
        ranking_event(ranking, call_id="AMIF-2018-AG-INTE", now=T0))
    assert [(e["proposal_id"], e["participants"]) for e in payload["main"] + payload["reserve"]] \
        == [("P-1", [partner]), ("P-2", [partner]), ("P-3", [partner])]
    assert [(e["proposal_id"], e["participants"], e["contact_emails"])
            for e in payload["rejected"]] == [("P-4", [], ["p-4@example.org"])]


# ------------------------------------------------------------------ properties
pools = st.lists(st.tuples(st.integers(0, 60).map(lambda n: Decimal(n) / 2),  # relevance 0-30
                           st.integers(0, 40).map(lambda n: Decimal(n) / 2),
                           st.integers(1, 10).map(lambda n: n * 100_000)), max_size=8)


@given(pools, st.integers(0, 30).map(lambda n: n * 100_000),
       st.sampled_from(["strict_rank", "skip_to_fit"]))
def test_budget_invariants(rows, budget, rule):
    pool = [cand(f"P-{i}", (rel, q, 15, 15, 20), grant=g) for i, (rel, q, g) in enumerate(rows)]
    ranking = rank_topic(topic(budget), pool, replace(RULES, budget_rule=rule), GRANTS)
    assert sorted(ids(ranking.main + ranking.reserve + ranking.rejected)) == sorted(ids(pool))
    assert ranking.funded_total == sum(e.grant for e in ranking.main) <= budget
    ranked = sorted(ranking.main + ranking.reserve, key=lambda e: e.rank)
    assert [e.rank for e in ranked] == list(range(1, len(ranked) + 1))
    spent, blocked = Decimal(0), False
    for entry in ranked:  # replay: a proposal goes to reserve only if it did not fit
        if entry in ranking.main:
            spent += entry.grant
        else:
            if not blocked:  # under strict_rank, only the first misfit is checked
                assert entry.grant > budget - spent
            blocked = rule == "strict_rank"
    if rule == "strict_rank":
        assert [e.rank for e in ranking.main] == list(range(1, len(ranking.main) + 1))


def test_every_placement_of_a_big_ranking_reads_each_entry_once(monkeypatch):
    # publishing a ranking looks up each of its proposals: a scan per look was quadratic
    # (4.1 s for a topic of 10,000 proposals; about 7 minutes for 100,000 by the square law)
    from services.evaluation.domain import ranking as module
    candidates = [cand(f"P-{i}", (22, 14, 10, 10, 15) if i % 3 else (10, 5, 5, 5, 5),
                       grant=100_000, minutes=i) for i in range(600)]
    ranking = rank_topic(topic(20_000_000), candidates, RULES, GRANTS)
    assert ranking.main and ranking.reserve and ranking.rejected
    reads = []
    entry_id = module.RankingEntry.proposal_id
    monkeypatch.setattr(module.RankingEntry, "proposal_id",
                        property(lambda entry: reads.append(1) or entry_id.fget(entry)))
    placed = {c.proposal_id: ranking.placement(c.proposal_id) for c in candidates}
    assert len(reads) == len(candidates)  # each entry read once, not once per look
    monkeypatch.undo()
    expected = {entry.proposal_id: (name, entry, position if name == "reserve" else None)
                for name in ("main", "reserve", "rejected")
                for position, entry in enumerate(getattr(ranking, name), start=1)}
    assert {pid: (p.list, p.entry, p.reserve_position) for pid, p in placed.items()} == expected
    with pytest.raises(KeyError):
        ranking.placement("P-unknown")
