"""The OR-Tools assignment in process: optimality against brute force, the rules, the
certificate, infeasibility diagnosis and repair."""
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.evaluation.adapters.solver import SolverOptions, solve_assignment
from services.evaluation.domain.conflicts import Consortium, Participant, conflict_pairs
from services.evaluation.domain.assignment import (
    AssignmentProblem, Release, objective_of, plan_repair, violations)
from shared.calls.model import EvaluationRules

from .test_assignment_support import (
    WORDS, affinity_table, brute_force, expert, problem, proposal, random_problem)

SPARSE = SolverOptions(candidates=1)  # forces column generation on tiny instances
DENSE = SolverOptions(candidates=10_000)  # every eligible pair is an arc
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def check_valid(prob, result, table=None):
    assert result.ok, result.diagnosis or result.error
    assert violations(prob, result.pairs) == []
    assert set(result.new_pairs) == set(result.pairs) - prob.fixed
    if table is not None:
        assert objective_of(prob, result.pairs, table) == (
            result.objective, result.total_affinity, result.load_cost)


# ------------------------------------------------------------------ optimality
@SLOW
@given(st.integers(0, 10**9))
def test_objective_equals_brute_force_on_small_random_instances(seed):
    prob = random_problem(seed)
    table = affinity_table(prob)
    best = brute_force(prob, table)
    for options in (SPARSE, DENSE):
        result = solve_assignment(prob, options)
        if best is None:
            assert result.status == "infeasible" and result.diagnosis
            continue
        check_valid(prob, result, table)
        assert result.status == "optimal" and result.gap == 0
        assert result.objective == best == result.bound


@SLOW
@given(st.integers(0, 10**9))
def test_a_cut_short_search_reports_a_valid_bound(seed):
    prob = random_problem(seed, max_proposals=4, max_experts=6)
    table = affinity_table(prob)
    best = brute_force(prob, table)
    result = solve_assignment(prob, SolverOptions(candidates=1, max_rounds=1))
    if best is None:
        assert result.status == "infeasible"
        return
    check_valid(prob, result, table)
    assert result.objective <= best <= result.bound
    relative = (result.bound - result.objective) / max(abs(result.bound), 1)
    assert result.gap == pytest.approx(relative)
    assert (result.status == "optimal") == (result.bound == result.objective)


def bench_module():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    try:
        import assignment
    finally:
        sys.path.pop(0)
    return assignment


def bench_instance(n_p, n_e, k, seed, **kw):
    bench = bench_module()
    proposals, experts, declared = bench.generate(n_p, n_e, k, seed)
    conflicts = bench.same_organisation_pairs(proposals, experts) | declared
    return AssignmentProblem(proposals, experts, k, conflicts=frozenset(conflicts), **kw)


def test_the_benchmarks_conflict_shortcut_is_the_domain_rule():
    bench = bench_module()
    proposals, experts, _ = bench.generate(80, 60, 3, 4)
    consortia = [Consortium(p.id, tuple(Participant(o, "BE") for o in p.consortium))
                 for p in proposals]
    rules = EvaluationRules(3, (), Decimal(70), ())
    expected = conflict_pairs(experts, consortia, rules)
    assert expected and bench.same_organisation_pairs(proposals, experts) == expected


@pytest.mark.parametrize("seed,penalty", [(1, 10), (2, 0), (3, 200)])
def test_sparse_candidates_reach_the_dense_optimum_on_a_structured_instance(seed, penalty):
    prob = bench_instance(300, 80, 3, seed, load_penalty=penalty)
    sparse = solve_assignment(prob, SolverOptions(candidates=6))
    dense = solve_assignment(prob, DENSE)
    check_valid(prob, sparse)
    check_valid(prob, dense)
    assert sparse.status == dense.status == "optimal"
    assert sparse.objective == dense.objective == sparse.bound == dense.bound
    assert sparse.stats["arcs"] < dense.stats["arcs"]


def test_conflicted_and_inactive_experts_are_never_assigned_even_when_they_fit_best():
    text = "housing for refugee families"
    proposals = [proposal(i, areas=["housing"], abstract=text) for i in range(3)]
    star = dict(areas=["housing"], keywords=["housing", "refugee families"])
    experts = [expert(1, 3, **star), expert(2, 3, active=False, **star), expert(3, 3, **star),
               expert(4, 3), expert(5, 3)]
    prob = problem(proposals, experts, k=2, conflicts={("E-1", "P-0"), ("E-3", "P-1")})
    result = solve_assignment(prob)
    check_valid(prob, result)
    assert not set(result.pairs) & prob.conflicts
    assert not any(e == "E-2" for e, _ in result.pairs)
    assert ("E-1", "P-1") in result.pairs and ("E-3", "P-0") in result.pairs


def test_equal_affinities_spread_the_load_as_evenly_as_possible():
    prob = problem([proposal(i) for i in range(10)], [expert(j, 10) for j in range(4)], k=2,
                   load_penalty=10)
    result = solve_assignment(prob)
    check_valid(prob, result)
    loads = Counter(e for e, _ in result.pairs)
    assert sorted(loads.values()) == [5, 5, 5, 5]


def test_load_penalty_trades_affinity_for_spread_and_zero_ignores_spread():
    text = "language course for migrant women"
    proposals = [proposal(i, abstract=text) for i in range(6)]
    experts = [expert(1, 6, keywords=["language course", "migrant women"]),
               expert(2, 6, keywords=["language course"]), expert(3, 6, keywords=["school"])]
    greedy = solve_assignment(problem(proposals, experts, k=1, load_penalty=0))
    even = solve_assignment(problem(proposals, experts, k=1, load_penalty=400))
    assert Counter(e for e, _ in greedy.pairs) == {"E-1": 6}
    assert max(Counter(e for e, _ in even.pairs).values()) <= 3
    assert even.total_affinity < greedy.total_affinity


def test_every_proposal_gets_exactly_k_distinct_experts_within_loads():
    prob = bench_instance(120, 40, 3, 5)
    result = solve_assignment(prob, SolverOptions(candidates=4))
    check_valid(prob, result)
    per_proposal = Counter(p for _, p in result.pairs)
    assert set(per_proposal.values()) == {3} and len(per_proposal) == 120
    limits = {e.id: e.max_load for e in prob.experts}
    assert all(n <= limits[e] for e, n in Counter(e for e, _ in result.pairs).items())


def test_a_sparse_graph_that_is_infeasible_is_widened_until_it_is_not():
    # everyone's best two experts can take one proposal each: the 2 best arcs per proposal
    # cannot carry 5 evaluations, the full graph can
    text = " ".join(WORDS[:6])
    proposals = [proposal(i, abstract=text) for i in range(5)]
    experts = [expert(1, 1, keywords=WORDS[:6]), expert(2, 1, keywords=WORDS[:5])] + \
              [expert(j, 1) for j in range(3, 9)]
    prob = problem(proposals, experts, k=1)
    table = affinity_table(prob)
    result = solve_assignment(prob, SolverOptions(candidates=1))
    check_valid(prob, result, table)
    assert result.status == "optimal" and result.objective == brute_force(prob, table)


def test_kept_pairs_stay_and_count_towards_k_and_load():
    prob = problem([proposal(1), proposal(2)], [expert(1, 1), expert(2, 2), expert(3, 2)], k=2,
                   fixed={("E-1", "P-1")})
    result = solve_assignment(prob)
    check_valid(prob, result)
    assert ("E-1", "P-1") in result.pairs and ("E-1", "P-1") not in result.new_pairs
    assert len(result.new_pairs) == 3


def test_nothing_to_choose_when_every_slot_is_kept():
    prob = problem([proposal(1)], [expert(1), expert(2)], k=1, fixed={("E-1", "P-1")})
    result = solve_assignment(prob)
    assert result.status == "optimal" and result.pairs == (("E-1", "P-1"),)
    assert result.new_pairs == () and result.bound == result.objective


# ------------------------------------------------------------------ infeasibility
def test_infeasible_proposal_is_diagnosed_without_solving():
    prob = problem([proposal(12)], [expert(1), expert(2)], k=2, conflicts={("E-2", "P-12")})
    result = solve_assignment(prob)
    assert result.status == "infeasible" and result.pairs == ()
    assert result.diagnosis == (
        "proposal P-12: only 1 non-conflicted active expert with free load, needs 2",)


def test_infeasible_topic_is_diagnosed():
    topic = "AMIF-2018-AG-INTE-1"
    prob = problem([proposal(i, topic) for i in range(40)], [expert(j, 8) for j in range(12)],
                   k=3)
    assert solve_assignment(prob).diagnosis == (
        f"topic {topic}: 40 proposals need 120 evaluations, only 96 available from "
        f"non-conflicted experts",)


def test_infeasible_call_is_diagnosed():
    prob = problem([proposal(1, "T-1"), proposal(2, "T-2")],
                   [expert(1, 1), expert(2, 1), expert(3, 1)], k=2)
    assert solve_assignment(prob).diagnosis == (
        "all topics: 2 proposals need 4 evaluations, only 3 available from non-conflicted "
        "experts",)


@pytest.mark.parametrize("options", [SPARSE, DENSE])
def test_a_blocked_group_only_the_flow_finds_is_named_from_the_min_cut(options):
    proposals = [proposal(1, "T-A"), proposal(2, "T-B"), proposal(3, "T-A"), proposal(4, "T-B")]
    experts = [expert(1, 1), expert(2, 2), expert(3, 3), expert(4, 3), expert(5, 1)]
    conflicts = {(e, p) for e in ("E-3", "E-4", "E-5") for p in ("P-1", "P-2")}
    result = solve_assignment(problem(proposals, experts, k=2, conflicts=conflicts), options)
    assert result.status == "infeasible"
    assert result.diagnosis == (
        "proposals P-1, P-2 (topics T-A, T-B): 2 proposals need 4 evaluations, only 3 "
        "available from non-conflicted experts",)


def test_kept_pairs_breaking_the_rules_are_diagnosed():
    prob = problem([proposal(1)], [expert(1, 1), expert(2)], k=1,
                   fixed={("E-1", "P-1")}, conflicts={("E-1", "P-1")})
    result = solve_assignment(prob)
    assert result.status == "infeasible"
    assert result.diagnosis == (
        "kept assignment of expert E-1 to proposal P-1 is conflicted or declined",)


# ------------------------------------------------------------------ repair
@SLOW
@given(st.integers(0, 10**9), st.data())
def test_repair_refills_only_the_freed_slots_optimally(seed, data):
    prob = random_problem(seed, max_proposals=4, max_experts=6)
    first = solve_assignment(prob)
    if not first.ok or not first.pairs:
        return
    released = data.draw(st.lists(st.sampled_from(sorted(first.pairs)), min_size=1,
                                  max_size=2, unique=True))
    releases = [Release(e, p, data.draw(st.sampled_from(["declined", "conflict"])))
                for e, p in released]
    plan = plan_repair(prob, first.pairs, releases)
    residual = plan.problem
    table = affinity_table(residual)
    best = brute_force(residual, table)
    repaired = solve_assignment(residual, SPARSE)
    if best is None:
        assert repaired.status == "infeasible" and repaired.diagnosis
        return
    check_valid(residual, repaired, table)
    assert repaired.objective == best
    assert set(first.pairs) - set(released) <= set(repaired.pairs)  # untouched ones stay
    assert not set(released) & set(repaired.pairs)  # never back to the same proposal
    refill = Counter(p for _, p in repaired.new_pairs)
    assert refill == Counter(p for _, p in released)  # exactly the freed slots
    limits = {e.id: e.max_load for e in prob.experts}
    assert all(n <= limits[e] for e, n in Counter(e for e, _ in repaired.pairs).items())


def test_repair_after_a_decline_on_a_structured_instance_keeps_everything_else():
    prob = bench_instance(200, 60, 3, 9)
    first = solve_assignment(prob)
    check_valid(prob, first)
    declined = [first.pairs[0], first.pairs[17], first.pairs[101]]
    plan = plan_repair(prob, first.pairs, [Release(e, p) for e, p in declined])
    repaired = solve_assignment(plan.problem)
    check_valid(plan.problem, repaired)
    assert set(repaired.pairs) - set(repaired.new_pairs) == set(first.pairs) - set(declined)
    assert sorted(p for _, p in repaired.new_pairs) == sorted(p for _, p in declined)
    assert not set(declined) & set(repaired.pairs)
    assert repaired.status == "optimal"


def test_repair_with_nobody_left_is_diagnosed_not_crashed():
    prob = problem([proposal(1)], [expert(1), expert(2, 0)], k=1)
    first = solve_assignment(prob)
    plan = plan_repair(prob, first.pairs, [Release("E-1", "P-1", "conflict")])
    result = solve_assignment(plan.problem)
    assert result.status == "infeasible"
    assert result.diagnosis == (
        "proposal P-1: only 0 non-conflicted active experts with free load, needs 1",)
