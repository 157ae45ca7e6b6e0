"""Assignment domain: feasibility diagnosis, the independent checker, repair planning."""
from dataclasses import replace

import pytest

from services.evaluation.domain.assignment import (
    AssignmentProblem, Release, diagnose, group_shortfall, load_cost, needs, objective_of,
    plan_repair, remaining_loads, violations)

from .test_assignment_support import expert, problem, proposal, random_problem


def messages(prob):
    return [s.message for s in diagnose(prob)]


# ------------------------------------------------------------------ problem
def test_duplicate_ids_and_senseless_parameters_are_refused():
    with pytest.raises(ValueError, match="P-1"):
        problem([proposal(1), proposal(1)], [expert(1)])
    with pytest.raises(ValueError, match="E-1"):
        problem([proposal(1)], [expert(1), expert(1)])
    with pytest.raises(ValueError):
        problem([proposal(1)], [expert(1)], k=0)
    with pytest.raises(ValueError):
        problem([proposal(1)], [expert(1)], load_penalty=-1)


def test_needs_and_remaining_loads_count_kept_pairs_and_inactive_experts():
    prob = problem([proposal(1), proposal(2)], [expert(1, 3), expert(2, 2, active=False)], k=2,
                   fixed={("E-1", "P-1"), ("E-2", "P-2")})
    assert needs(prob) == {"P-1": 1, "P-2": 1}
    assert remaining_loads(prob) == {"E-1": 2, "E-2": 0}


def test_load_cost_is_convex_and_matches_the_per_unit_costs():
    assert [load_cost(n, 10) for n in range(5)] == [0, 0, 10, 30, 60]
    # the j-th unit costs penalty * (j - 1): the flow network's arc costs add up to this
    assert all(load_cost(n, 7) == sum(7 * (j - 1) for j in range(1, n + 1)) for n in range(9))


def test_objective_is_affinity_minus_load_cost():
    prob = problem([proposal(1), proposal(2)], [expert(1)], load_penalty=100)
    pairs = [("E-1", "P-1"), ("E-1", "P-2")]
    assert objective_of(prob, pairs, {pairs[0]: 600, pairs[1]: 300}) == (800, 900, 100)


# ------------------------------------------------------------------ diagnosis
def test_a_feasible_problem_has_no_diagnosis():
    prob = problem([proposal(i) for i in range(4)], [expert(j, 2) for j in range(4)], k=2)
    assert diagnose(prob) == ()


def test_proposal_with_too_few_non_conflicted_active_experts_is_named():
    prob = problem([proposal(12), proposal(13)],
                   [expert(1), expert(2), expert(3, active=False), expert(4, max_load=0)],
                   k=2, conflicts={("E-2", "P-12")})
    assert messages(prob) == [
        "proposal P-12: only 1 non-conflicted active expert with free load, needs 2"]
    [shortfall] = diagnose(prob)
    assert (shortfall.kind, shortfall.subject, shortfall.needed, shortfall.available) == \
        ("proposal", "P-12", 2, 1)


def test_declined_and_kept_experts_do_not_count_as_available_again():
    prob = problem([proposal(1)], [expert(1), expert(2), expert(3)], k=3,
                   excluded={("E-2", "P-1")}, fixed={("E-1", "P-1")})
    assert messages(prob) == [
        "proposal P-1: only 1 non-conflicted active expert with free load, needs 2"]


def test_a_short_proposal_does_not_also_blame_its_topic():
    # P-1 can get 1 of 2; its topic would be short by the same 1: only P-1 is named
    prob = problem([proposal(1), proposal(2)], [expert(1), expert(2)], k=2,
                   conflicts={("E-2", "P-1")})
    assert [s.kind for s in diagnose(prob)] == ["proposal"]


def test_topic_short_of_evaluations_is_named_with_the_numbers():
    topic = "AMIF-2018-AG-INTE-1"
    proposals = [proposal(i, topic) for i in range(40)] + [proposal(99, "AMIF-2018-AG-INTE-2")]
    experts = [expert(j, max_load=8) for j in range(12)]  # 96 evaluations for topic 1
    prob = problem(proposals, experts, k=3, conflicts={(f"E-{j}", "P-99") for j in range(12)}
                   - {("E-0", "P-99"), ("E-1", "P-99"), ("E-2", "P-99")})
    # the call as a whole is short too, but that follows from the topic: not repeated
    assert messages(prob) == [f"topic {topic}: 40 proposals need 120 evaluations, only 96 "
                              f"available from non-conflicted experts"]


def test_topic_check_counts_an_expert_at_most_once_per_proposal_it_may_take():
    # 2 proposals, k=2; one expert with load 10 can still give each proposal only one
    prob = problem([proposal(1), proposal(2)], [expert(1, 10), expert(2, 1)], k=2)
    assert [s.kind for s in diagnose(prob)] == ["topic"]
    assert diagnose(prob)[0].available == 3


def test_call_wide_shortfall_is_named_when_each_topic_alone_fits():
    proposals = [proposal(1, "T-1"), proposal(2, "T-2")]
    prob = problem(proposals, [expert(1, 1), expert(2, 1), expert(3, 1)], k=2)
    assert messages(prob) == ["all topics: 2 proposals need 4 evaluations, only 3 available "
                              "from non-conflicted experts"]


def test_group_shortfall_names_a_blocked_group_the_other_checks_miss():
    prob = group_problem()
    assert diagnose(prob) == ()  # each proposal, topic and the call pass on their own
    shortfall = group_shortfall(prob, ["P-1", "P-2"])
    assert shortfall.message == ("proposals P-1, P-2 (topics T-A, T-B): 2 proposals need 4 "
                                 "evaluations, only 3 available from non-conflicted experts")
    assert group_shortfall(prob, ["P-3", "P-4"]) is None


def group_problem():
    """P-1 and P-2 can only use E-1 (load 1) and E-2: 4 evaluations needed, 3 possible."""
    proposals = [proposal(1, "T-A"), proposal(2, "T-B"), proposal(3, "T-A"), proposal(4, "T-B")]
    experts = [expert(1, 1), expert(2, 2), expert(3, 3), expert(4, 3), expert(5, 1)]
    conflicts = {(e, p) for e in ("E-3", "E-4", "E-5") for p in ("P-1", "P-2")}
    return problem(proposals, experts, k=2, conflicts=conflicts)


@pytest.mark.parametrize("fixed,conflicts,expected", [
    ({("E-1", "P-1"), ("E-2", "P-1")}, set(), "proposal P-1: 2 kept evaluators, needs 1"),
    ({("E-1", "P-1"), ("E-1", "P-2")}, set(), "expert E-1: 2 kept assignments exceed max load 1"),
    ({("E-1", "P-1")}, {("E-1", "P-1")},
     "kept assignment of expert E-1 to proposal P-1 is conflicted or declined"),
    ({("E-9", "P-1")}, set(), "kept assignment of E-9 to P-1 names an unknown expert or proposal"),
])
def test_kept_assignments_that_cannot_stand_are_reported_first(fixed, conflicts, expected):
    prob = problem([proposal(1), proposal(2)], [expert(1, 1), expert(2, 1)], k=1,
                   fixed=fixed, conflicts=conflicts)
    assert expected in messages(prob)
    assert {s.kind for s in diagnose(prob)} == {"kept"}


# ------------------------------------------------------------------ checker
def test_violations_finds_every_kind_of_broken_rule():
    prob = problem([proposal(1), proposal(2)],
                   [expert(1, 1), expert(2, 2), expert(3, 2, active=False)], k=2,
                   conflicts={("E-2", "P-2")}, fixed={("E-1", "P-1")})
    bad = [("E-2", "P-2"), ("E-1", "P-2"), ("E-3", "P-2"), ("E-3", "P-2"), ("E-2", "P-1")]
    found = violations(prob, bad)
    assert "expert E-3 assigned 2 times to proposal P-2" in found
    assert "expert E-2 assigned to conflicted proposal P-2" in found
    assert "inactive expert E-3 assigned to proposal P-2" in found
    assert "kept assignment of expert E-1 to proposal P-1 was dropped" in found
    assert "proposal P-1 has 1 evaluators, needs 2" in found
    assert "proposal P-2 has 3 evaluators, needs 2" in found
    good = [("E-1", "P-1"), ("E-2", "P-1"), ("E-2", "P-2"), ("E-1", "P-2")]
    assert "expert E-1 carries 2 assignments, max load 1" in violations(prob, good)


def test_violations_is_empty_for_a_valid_assignment():
    prob = problem([proposal(1), proposal(2)], [expert(1, 1), expert(2, 2)], k=1,
                   fixed={("E-1", "P-1")})
    assert violations(prob, [("E-1", "P-1"), ("E-2", "P-2")]) == []


# ------------------------------------------------------------------ repair planning
def test_repair_keeps_every_other_pair_and_forbids_the_released_ones():
    prob = problem([proposal(1), proposal(2)], [expert(j, 2) for j in range(1, 5)], k=2,
                   conflicts={("E-4", "P-1")})
    current = {("E-1", "P-1"), ("E-2", "P-1"), ("E-1", "P-2"), ("E-3", "P-2")}
    plan = plan_repair(prob, current, [Release("E-2", "P-1", "declined"),
                                       Release("E-3", "P-2", "conflict")])
    assert plan.kept == {("E-1", "P-1"), ("E-1", "P-2")}
    assert plan.freed == (("E-2", "P-1"), ("E-3", "P-2"))
    residual = plan.problem
    assert residual.fixed == plan.kept
    assert ("E-2", "P-1") in residual.excluded and ("E-2", "P-1") not in residual.conflicts
    assert ("E-3", "P-2") in residual.conflicts and ("E-4", "P-1") in residual.conflicts
    assert needs(residual) == {"P-1": 1, "P-2": 1}
    assert remaining_loads(residual) == {"E-1": 0, "E-2": 2, "E-3": 2, "E-4": 2}
    assert residual.load_penalty == prob.load_penalty and residual.weights == prob.weights


def test_releasing_a_pair_that_is_not_assigned_still_forbids_it():
    prob = problem([proposal(1)], [expert(1), expert(2)])
    plan = plan_repair(prob, {("E-1", "P-1")}, [Release("E-2", "P-1", "conflict")])
    assert plan.freed == () and plan.kept == {("E-1", "P-1")}
    assert ("E-2", "P-1") in plan.problem.forbidden


def test_release_reason_must_be_known():
    with pytest.raises(ValueError):
        Release("E-1", "P-1", "bored")


def test_problem_is_immutable_data():
    prob = problem([proposal(1)], [expert(1)])
    assert isinstance(prob, AssignmentProblem)
    with pytest.raises(AttributeError):
        prob.evaluators_per_proposal = 3


def test_a_problem_for_solving_keeps_its_blocked_pairs_but_not_texts_or_pair_sets():
    prob = next(p for p in (random_problem(seed, max_proposals=6, max_experts=6)
                            for seed in range(100)) if p.conflicts and p.excluded)
    prob = replace(prob, proposals=tuple(replace(p, abstract=f"housing for {p.id}")
                                         for p in prob.proposals))
    blocked = prob.blocked  # computed before: a solver has it by then
    lean = prob.for_solving()
    assert [p.abstract for p in lean.proposals] == [""] * len(prob.proposals)
    assert [replace(p, abstract="") for p in prob.proposals] == list(lean.proposals)
    assert (lean.experts, lean.fixed, lean.weights) == (prob.experts, prob.fixed, prob.weights)
    # not computed again (at 100,000 proposals it is 66 MB and seconds), and the only
    # holder of the pairs: the sets go
    assert lean.blocked is blocked
    assert not lean.conflicts and not lean.excluded and not lean.forbidden
    assert not hasattr(lean.conflicts, "codes")
    assert [p.abstract for p in prob.proposals][0].startswith("housing")  # left as it was
