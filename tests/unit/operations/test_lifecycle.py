"""A proposal's state from the set of its facts: order, causes, precedence, finals."""
import itertools
import random
from datetime import timedelta

from services.operations.domain import lifecycle as lc
from services.operations.domain.facts import Fact, facts_of
from tests.support.operations_scenario import DEADLINE, EXPECTED, RANKED, at, call_events

T0 = at("2019-01-10T10:00:00")


def fact(event_type, when, data=None, event_id=None, cause=None):
    return Fact(event_id or f"{event_type}-{when.isoformat()}", event_type, when, cause,
                data or {}, "")


def facts_for(pid, events):
    return [f for e in events for p, f in facts_of(e) if p == pid]


def test_every_scenario_proposal_reaches_its_expected_state():
    events = call_events()
    for pid, (topic, final, state, rules, total, rank, listed) in EXPECTED.items():
        view = lc.derive(pid, facts_for(pid, events))
        if state == "reserve":  # final only once settled by its topic (domain.reserve)
            state, final = lc.RESERVE_LIST, None
        assert (view.state, view.final_state, view.failed_rule_ids, view.rank, view.list) == \
            (state, final, rules, rank, listed), pid
        assert view.topic_id == topic


def test_the_state_does_not_depend_on_the_order_facts_are_given_in():
    events = call_events()
    for pid in ("P-PRO", "P-WDR", "P-DEC", "P-REJ"):
        facts = facts_for(pid, events)
        expected = lc.derive(pid, facts)
        for seed in range(10):
            assert lc.derive(pid, random.Random(seed).sample(facts, len(facts))) == expected


def test_duplicates_are_ignored():
    facts = facts_for("P-SIG", call_events())
    assert lc.derive("P-SIG", facts + facts[:5]) == lc.derive("P-SIG", facts)


def test_a_withdrawal_during_grant_preparation_is_final_before_the_decline_it_causes():
    when = at("2019-08-01T00:00:00")
    withdrawn = fact("proposal_withdrawn", when, {"reason": "no longer able"}, "w")
    declined = fact("grant_declined", when, {"reason": "withdrawn"}, "d", cause="w")
    base = [fact("proposal_submitted", T0, {"version": 1}, "s"),
            fact("ranking_published", RANKED, {"list": "main", "rank": 1}, "r"),
            fact("grant_preparation_started", RANKED,
                 {"grant_id": "G", "max_grant": "100.00"}, "g", cause="r")]
    for order in itertools.permutations([withdrawn, declined]):
        view = lc.derive("P-1", base + list(order))
        assert (view.state, view.final_state) == (lc.WITHDRAWN, lc.WITHDRAWN)
        assert view.decline_reason == "withdrawn"  # still recorded


def test_the_first_final_state_wins():
    facts = [fact("proposal_submitted", T0, {"version": 1}),
             fact("proposal_screened", DEADLINE, {"version": 1, "admissible": False,
                                                  "eligible": True, "failed_rules": []}),
             fact("proposal_withdrawn", DEADLINE + timedelta(days=3), {"reason": ""})]
    assert lc.derive("P", facts).final_state == lc.INADMISSIBLE


def test_a_withdrawal_at_the_same_instant_as_automatic_steps_comes_after_them():
    facts = [fact("proposal_submitted", T0, {"version": 1}),
             fact("proposal_withdrawn", DEADLINE, {"reason": ""}),
             fact("proposal_screened", DEADLINE, {"version": 1, "admissible": True,
                                                  "eligible": False, "failed_rules": []})]
    assert lc.derive("P", facts).final_state == lc.INELIGIBLE


def test_only_the_latest_screening_counts():
    failed = fact("proposal_screened", DEADLINE, {
        "version": 1, "admissible": True, "eligible": False,
        "failed_rules": [{"rule": "participating_country", "kind": "eligibility",
                          "message": ""}]}, "a")
    redone = fact("proposal_screened", DEADLINE + timedelta(days=10), {
        "version": 1, "admissible": True, "eligible": True, "failed_rules": []}, "b")
    view = lc.derive("P", [redone, failed])
    assert (view.state, view.final_state, view.failed_rules) == (lc.ELIGIBLE, None, ())


def test_states_only_move_forward():
    facts = [fact("evaluation_completed", at("2019-04-01T00:00:00"),
                  {"total": "70", "scores": {}, "passed": True, "failed_thresholds": []}),
             fact("evaluator_assigned", at("2019-04-02T00:00:00"), {"reason": "extra"})]
    assert lc.derive("P", facts).state == lc.EVALUATED


def test_a_promoted_reserve_is_in_grant_preparation():
    facts = [fact("ranking_published", RANKED, {"list": "reserve", "rank": 3,
                                                "amount": "10.00"}),
             fact("reserve_promoted", at("2019-08-01T00:00:00"), {"rank": 3})]
    view = lc.derive("P", facts)
    assert view.state == lc.GRANT_PREPARATION and view.promoted and view.list == "reserve"


def test_causes_come_before_effects_at_the_same_instant_whatever_their_type():
    cause = fact("grant_signed", RANKED, {}, "z-cause")
    effect = fact("call_published", RANKED, {}, "a-effect", cause="z-cause")
    unrelated = fact("proposal_submitted", RANKED, {}, "m")
    assert [f.event_id for f in lc.ordered([effect, unrelated, cause])] == \
        ["m", "z-cause", "a-effect"]


def test_a_causation_cycle_does_not_loop():
    a = fact("grant_signed", RANKED, {}, "a", cause="b")
    b = fact("grant_declined", RANKED, {}, "b", cause="a")
    assert {f.event_id for f in lc.ordered([a, b])} == {"a", "b"}


def test_final_states_are_exactly_the_seven_of_the_guide():
    assert set(lc.FINAL_STATES) == {"withdrawn", "inadmissible", "ineligible", "rejected",
                                    "reserve", "declined", "grant_signed"}
    assert not set(lc.FINAL_STATES) & set(lc.PROGRESS)
