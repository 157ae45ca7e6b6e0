"""The vectorised parts of the assignment at scale give what the plain definitions give
(random small instances), and the same problem gives the same pairs whatever order its
parts come in."""
import random
import sys
import tracemalloc
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.evaluation.adapters.solver import (
    AffinityModel, SolverOptions, canonical, flow as solver_flow, limits, pairs as solver_pairs,
    pricing, solve_assignment)
from services.evaluation.adapters.solver.flow import solve_flow
from services.evaluation.adapters.solver.index import Index
from services.evaluation.adapters.solver.pairs import _select, collect
from services.evaluation.adapters.solver.pricing import price
from services.evaluation.adapters.solver import resources as solver_resources
from services.evaluation.adapters.solver.resources import set_aside
from services.evaluation.domain.affinity import (
    AffinityWeights, ImportedScores, affinity_score, area_overlap)
from services.evaluation.domain.assignment import (
    AssignmentProblem, diagnose, needs, remaining_loads)
from services.evaluation.domain.conflicts import (
    Consortium, DeclaredConflict, Participant, check_conflict, conflict_pairs)
from services.evaluation.domain.blocked import BlockedPairs
from services.evaluation.domain import pairs as pairs_module
from services.evaluation.domain.pairs import PairSet
from shared.calls.model import EvaluationRules
from tests.support.evaluation_events import T0

from .test_assignment_support import (
    AREAS, WORDS, affinity_table, expert, problem, proposal, random_problem)
from .test_assignment_solver import bench_instance, check_valid

SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = ("same_organisation", "same_country_as_coordinator", "same_country_as_participant")


# ------------------------------------------------------------------ conflict pairs
@SOME
@given(st.integers(0, 10**9), st.lists(st.sampled_from(RULES), max_size=3, unique=True))
def test_conflict_pairs_are_the_pairs_check_conflict_finds(seed, rule_ids):
    rng = random.Random(seed)
    orgs, countries = [f"ORG-{i}" for i in range(6)], ["BE", "GR", "EL", "UK", "GB", "FR"]
    experts = [replace(expert(j, org=rng.choice(orgs + [" org-1 "])),
                       country=rng.choice(countries)) for j in range(rng.randint(0, 7))]
    consortia = [Consortium(f"P-{i}", tuple(
        Participant(rng.choice(orgs), rng.choice(countries), role)
        for role in ["coordinator"] + ["co_applicant"] * rng.randint(0, 3)))
        for i in range(rng.randint(0, 6))]
    declared = [DeclaredConflict(f"E-{rng.randint(0, 9)}", f"P-{rng.randint(0, 9)}", "operations",
                                 "known", "ops", T0) for _ in range(rng.randint(0, 4))]
    rules = EvaluationRules(3, (), Decimal(70), (), conflict_rules=tuple(rule_ids))
    found = conflict_pairs(experts, consortia, rules, declared)
    plain = {(e.id, c.proposal_id) for e in experts for c in consortia
             if check_conflict(e, c, rules, declared).conflicted}
    assert isinstance(found, PairSet)
    assert set(found) == plain and len(found) == len(plain) and found == frozenset(plain)


def positions(pairs: PairSet, e_ids, p_ids):
    """(expert, proposal) positions of ``pairs`` in these tables, from their codes."""
    codes, width = pairs.codes_in(e_ids, p_ids), max(len(e_ids), 1)
    return codes % width, codes // width


@SOME
@given(st.sets(st.tuples(st.sampled_from(["E-1", "E-2", "E-10", "x"]),
                         st.sampled_from(["P-1", "P-2", "P-3"]))),
       st.sets(st.tuples(st.sampled_from(["E-1", "E-3"]), st.sampled_from(["P-2", "P-9"]))),
       st.sets(st.sampled_from(["P-1", "P-2", "P-9"])))
def test_a_pair_set_behaves_as_the_frozenset_of_its_pairs(pairs, others, kept):
    packed = PairSet.of(pairs)
    assert set(packed) == pairs and len(packed) == len(pairs)
    for pair in pairs | others | {("E-1", "nobody")}:
        assert (pair in packed) == (pair in pairs)
    assert packed | others == pairs | others and others | packed == pairs | others
    assert set(packed.restrict(kept)) == {p for p in pairs if p[1] in kept}
    e_ids, p_ids = ["E-2", "E-1", "E-3"], ["P-3", "P-1"]
    e, p = positions(packed, e_ids, p_ids)
    assert sorted(zip(e.tolist(), p.tolist())) == sorted(
        (e_ids.index(a), p_ids.index(b)) for a, b in pairs if a in e_ids and b in p_ids)


@SOME
@given(st.sets(st.tuples(st.sampled_from(["E-1", "E-2", "E-10", "x"]),
                         st.sampled_from(["P-1", "P-2", "P-3"]))))
def test_a_pair_sets_codes_in_an_order_are_its_pairs_in_that_order(pairs):
    packed = PairSet.of(pairs)
    for e_ids, p_ids in ((list(packed.expert_ids), list(packed.proposal_ids)),
                         (["E-2", "E-1", "E-3"], ["P-3", "P-1"])):
        width = max(len(e_ids), 1)
        assert packed.codes_in(e_ids, p_ids).tolist() == sorted(
            p_ids.index(b) * width + e_ids.index(a) for a, b in pairs
            if a in e_ids and b in p_ids)
        e, p = positions(packed, e_ids, p_ids)
        assert sorted(zip(e.tolist(), p.tolist())) == sorted(
            (e_ids.index(a), p_ids.index(b)) for a, b in pairs if a in e_ids and b in p_ids)
    # in its own tables' order the set's array itself serves: no copy of 10^7 pairs
    assert packed.codes_in(packed.expert_ids, packed.proposal_ids) is packed.codes


@pytest.mark.parametrize("n_experts, n_proposals, bits", [
    (30_000, 100_000, 32),  # a 100,000-proposal call: 3 x 10^9 codes fit in 32 bits
    (70_000, 70_000, 64),  # 4.9 x 10^9 do not
])
def test_a_pair_sets_codes_take_32_bits_where_every_code_fits(n_experts, n_proposals, bits):
    e_ids = [f"E-{i:06d}" for i in range(n_experts)]
    p_ids = [f"P-{i:06d}" for i in range(n_proposals)]
    last_e, last_p = n_experts - 1, n_proposals - 1
    experts, proposals = np.array([0, last_e, 5, last_e]), np.array([0, last_p, last_p, 3])
    pairs = PairSet(e_ids, p_ids, experts, proposals)
    assert pairs.codes.dtype.itemsize * 8 == bits
    assert (e_ids[last_e], p_ids[last_p]) in pairs and (e_ids[1], p_ids[last_p]) not in pairs
    blocked = BlockedPairs(pairs.codes_in(e_ids, p_ids), n_proposals, n_experts)
    local, cols = blocked.of_proposals(np.array([0, 3, last_p]))
    assert list(zip(local.tolist(), cols.tolist())) == [(0, 0), (1, last_e), (2, 5), (2, last_e)]
    assert blocked.per_proposal()[[0, 3, last_p]].tolist() == [1, 1, 2]


def test_a_pair_set_is_built_in_its_codes_final_type():
    # a 64-bit array first, narrowed after, was 0.25 GB more at the solver child's peak
    # for the 31 million conflicted pairs of a 100,000 x 30,000 call
    n = 1_000_000
    rng = np.random.default_rng(5)
    codes = rng.choice(30_000 * 100_000, size=n, replace=False)
    experts, proposals = (codes % 30_000).astype(np.int32), (codes // 30_000).astype(np.int32)
    e_ids, p_ids = [f"E-{i}" for i in range(30_000)], [f"P-{i}" for i in range(100_000)]
    tracemalloc.start()
    try:
        pairs = PairSet(e_ids, p_ids, experts, proposals)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pairs.codes.dtype == np.uint32 and (pairs.codes == np.sort(codes)).all()
    # 4 bytes a code and 1 a flag (sorted_unique); the id tables are a few MB more
    tables = sys.getsizeof(e_ids) + sys.getsizeof(p_ids)
    assert peak < 6 * n + 2 * tables, peak


@SOME
@given(st.lists(st.sampled_from("abcd"), max_size=9),
       st.lists(st.lists(st.sampled_from("abcde"), max_size=3), max_size=7),
       st.sets(st.tuples(st.sampled_from(["E-0", "E-3", "E-new"]),
                         st.sampled_from(["P-0", "P-2", "P-new"]))),
       st.sampled_from([1, 2, 5, 1 << 20]))
def test_pair_sets_worked_a_slice_at_a_time_are_the_pairs_they_name(
        expert_keys, proposal_keys, declared, per_slice):
    e_ids = [f"E-{i}" for i in range(len(expert_keys))]
    p_ids = [f"P-{i}" for i in range(len(proposal_keys))]
    expected = {(e_ids[i], p_ids[j]) for i, key in enumerate(expert_keys)
                for j, keys in enumerate(proposal_keys) if key in keys}
    with mock.patch.object(pairs_module, "_SLICE", per_slice):
        joined = PairSet.join(e_ids, expert_keys, p_ids, proposal_keys)
        assert set(joined) == expected and len(joined) == len(expected)
        both = joined | declared
        assert set(both) == expected | declared and len(both) == len(expected | declared)
        tables = (e_ids[::-1] + ["E-new"], p_ids[::2] + ["P-new"])
        codes = both.codes_in(*tables)
        width = len(tables[0])
        assert codes.tolist() == sorted(
            tables[1].index(p) * width + tables[0].index(e)
            for e, p in expected | declared if e in tables[0] and p in tables[1])


def test_conflicts_are_joined_and_united_in_their_codes_final_type(monkeypatch):
    # whole, the 64-bit positions and offsets of the join were 1.1 GB above the caller's
    # size for a 100,000 x 30,000 call's 33 million conflicted pairs, and mapping them
    # into a union's tables 0.77 GB: the largest peaks of a call's first assignment
    monkeypatch.setattr(pairs_module, "_SLICE", 1 << 16)
    n_experts, n_proposals = 1000, 10_000
    e_ids = [f"E-{i:04d}" for i in range(n_experts)]
    p_ids = [f"P-{i:05d}" for i in range(n_proposals)]
    expert_keys = [f"org-{i % 10}" for i in range(n_experts)]
    proposal_keys = [[f"org-{i % 10}"] for i in range(n_proposals)]
    tracemalloc.start()
    try:
        joined = PairSet.join(e_ids, expert_keys, p_ids, proposal_keys)
        _, join_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        united = joined | {("E-new", "P-00000")}
        union_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    pairs = n_proposals * n_experts // 10  # a million
    assert len(joined) == pairs and len(united) == pairs + 1
    assert joined.codes.dtype == united.codes.dtype == np.uint32
    # measured: 7.5 and 8.1 bytes a pair (30.4 and 21.2 whole): the codes (4 bytes a
    # pair), a flag a pair (sorted_unique), a slice's temporaries; the union maps the
    # set into its tables (a new expert) and joins the parts (4 + 4)
    tables = 2 * (sys.getsizeof(e_ids) + sys.getsizeof(p_ids))
    assert join_peak < 10 * pairs + tables, join_peak
    assert union_peak < 13 * pairs + tables, union_peak


@SOME
@given(st.integers(0, 10**9))
def test_blocked_pairs_are_each_forbidden_or_kept_pair_once_in_problem_order(seed):
    prob = random_problem(seed, max_proposals=6, max_experts=7)
    rows, cols = prob.blocked.positions()
    assert rows.dtype == cols.dtype == np.int32
    p_ids, e_ids = [p.id for p in prob.proposals], [e.id for e in prob.experts]
    expected = sorted({(p_ids.index(p), e_ids.index(e))
                       for e, p in set(prob.forbidden) | set(prob.fixed)})
    assert list(zip(rows.tolist(), cols.tolist())) == expected
    # the counts and the runs the diagnosis and the solver read, against the pairs
    open_experts = np.array([j % 2 == 0 for j in range(len(e_ids))], dtype=bool)
    some_proposals = np.array([i % 3 != 1 for i in range(len(p_ids))], dtype=bool)
    assert prob.blocked.per_proposal().tolist() == [
        sum(r == i for r, _ in expected) for i in range(len(p_ids))]
    assert prob.blocked.per_proposal(experts=open_experts).tolist() == [
        sum(r == i and open_experts[c] for r, c in expected) for i in range(len(p_ids))]
    assert prob.blocked.per_expert(some_proposals).tolist()[:len(e_ids)] == [
        sum(c == j and some_proposals[r] for r, c in expected) for j in range(len(e_ids))]
    wanted = np.flatnonzero(some_proposals)
    local, experts = prob.blocked.of_proposals(wanted)
    assert list(zip(wanted[local].tolist(), experts.tolist())) == [
        (r, c) for r, c in expected if some_proposals[r]]


def test_blocked_pairs_take_two_bytes_a_pair_where_the_pool_allows():
    # 33 million pairs at 100,000 x 30,000: 66 MB by proposal, 0.13 GB as 32-bit codes
    prob = next(p for p in (canonical(random_problem(seed, max_proposals=6,
                                                      max_experts=7))
                            for seed in range(100)) if p.conflicts)
    assert prob.blocked.experts.dtype == np.uint16
    assert len(prob.blocked) == len(set(prob.forbidden) | set(prob.fixed))
    wide = BlockedPairs(np.array([3, 70_000, 2 * 70_000 + 5], dtype=np.int64), 3, 70_000)
    assert wide.experts.dtype == np.int32  # more experts than 16 bits number
    assert [r.tolist() for r in wide.positions()] == [[0, 1, 2], [3, 0, 5]]


@pytest.mark.parametrize("slice_size", [1, 2, 3, 1 << 20])
def test_blocked_pairs_read_a_slice_at_a_time_count_as_whole(monkeypatch, slice_size):
    # runs of one proposal cut by a slice's end, proposals without pairs between them
    from services.evaluation.domain import blocked as blocked_module
    monkeypatch.setattr(blocked_module, "_SLICE", slice_size)
    n_p, n_e = 6, 5
    pairs = [(0, 1), (0, 3), (0, 4), (2, 0), (3, 2), (3, 3), (5, 0), (5, 1), (5, 4)]
    pairs_of = BlockedPairs(np.array([p * n_e + e for p, e in pairs], dtype=np.uint32), n_p, n_e)
    assert [r.tolist() for r in pairs_of.positions()] == [[p for p, _ in pairs],
                                                          [e for _, e in pairs]]
    experts = np.array([True, False, True, True, False])
    proposals = np.array([True, True, False, True, False, True])
    assert pairs_of.per_proposal().tolist() == [3, 0, 1, 2, 0, 3]
    assert pairs_of.per_proposal(experts=experts).tolist() == [
        sum(p == i and experts[e] for p, e in pairs) for i in range(n_p)]
    assert pairs_of.per_expert(proposals).tolist() == [
        sum(e == j and proposals[p] for p, e in pairs) for j in range(n_e)]
    local, found = pairs_of.of_proposals(np.array([0, 1, 5]))
    assert list(zip(local.tolist(), found.tolist())) == [(0, 1), (0, 3), (0, 4), (2, 0),
                                                         (2, 1), (2, 4)]


@SOME
@given(st.integers(0, 10**9))
def test_the_index_blocks_exactly_the_open_pairs(seed):
    prob = canonical(random_problem(seed, max_proposals=6, max_experts=7))
    index = Index.of(prob)
    blocked = set(prob.forbidden) | set(prob.fixed)
    local, cols = index.blocked_in(np.arange(len(index.rows)))
    assert list(zip(local.tolist(), cols.tolist())) == sorted(
        (r, c) for r, i in enumerate(index.rows.tolist()) for c, j in enumerate(index.cols.tolist())
        if (prob.experts[j].id, prob.proposals[i].id) in blocked)
    assert index.blocked is prob.blocked  # the problem's pairs, not a copy
    assert index.eligible_per_row().tolist() == [
        len(index.cols) - sum(r == row for r in local.tolist()) for row in range(len(index.rows))]
    assert index.eligible_per_col().tolist() == [
        len(index.rows) - sum(c == col for c in cols.tolist()) for col in range(len(index.cols))]


# ------------------------------------------------------------------ diagnosis
def plain_available(prob: AssignmentProblem, members: set[str]) -> tuple[int, int]:
    """Hall's counts straight from the definition: (needed, available) of a set."""
    need, free = needs(prob), remaining_loads(prob)
    blocked = set(prob.forbidden) | set(prob.fixed)
    wanting = {p for p in members if need[p] > 0}
    available = sum(min(free[e.id], sum((e.id, p) not in blocked for p in wanting))
                    for e in prob.experts if free[e.id] > 0)
    return sum(need[p] for p in wanting), available


@SOME
@given(st.integers(0, 10**9))
def test_the_diagnosis_counts_are_halls_counts(seed):
    prob = random_problem(seed, max_proposals=6, max_experts=7)
    found = {(s.kind, s.subject): (s.needed, s.available) for s in diagnose(prob)}
    if any(kind == "kept" for kind, _ in found):
        return
    need = needs(prob)
    for p in prob.proposals:
        needed, available = plain_available(prob, {p.id})
        expected = (need[p.id], available) if 0 < need[p.id] and available < need[p.id] else None
        assert found.get(("proposal", p.id)) == expected
    for topic in sorted({p.topic for p in prob.proposals}):
        if ("topic", topic) in found:
            members = {p.id for p in prob.proposals if p.topic == topic}
            needed, available = found[("topic", topic)]
            assert available == plain_available(prob, members)[1] and available < needed


# ------------------------------------------------------------------ affinity and selection
@SOME
@given(st.integers(0, 10**9))
def test_imported_scores_replace_the_text_similarity_of_their_pairs(seed):
    rng = random.Random(seed)
    prob = random_problem(seed, max_proposals=5, max_experts=6)
    plain = AffinityModel(prob)
    rows, cols = np.arange(len(prob.proposals)), np.arange(len(prob.experts))
    before = plain.block(rows, cols)
    chosen = {(e.id, p.id): rng.choice([0.0, 0.5, 1.0, rng.random()])
              for e in prob.experts for p in prob.proposals if rng.random() < 0.4}
    model = AffinityModel(replace(prob, imported=ImportedScores.of(chosen)))
    after = model.block(rows, cols)
    for i, p in enumerate(prob.proposals):
        for j, e in enumerate(prob.experts):
            if (e.id, p.id) in chosen:
                assert after[i, j] == affinity_score(
                    area_overlap(p.integration_areas, e.expertise_areas),
                    chosen[(e.id, p.id)], prob.weights)
            else:
                assert after[i, j] == before[i, j]
    r, c = np.repeat(rows, len(cols)), np.tile(cols, len(rows))
    assert model.pairs(r, c).tolist() == after[r, c].tolist()


@SOME
@given(st.integers(0, 10**9), st.integers(1, 6), st.integers(2, 12))
def test_stored_pairs_hold_the_best_and_the_ceiling_bounds_the_rest(seed, width, store):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 12)), int(rng.integers(1, 400))
    block = rng.integers(-1, int(rng.integers(1, 60)), (n, m)).astype(np.int16)  # ties, -1
    store = max(store, width)
    r, c, v, arcs, ceiling = _select(open_index(n, m).keys(np.arange(n), block), store, width)
    assert (block[r, c] == v).all() and (v >= 0).all()
    assert len(set(zip(r.tolist(), c.tolist()))) == len(r)
    for row in range(n):
        eligible = sorted(block[row][block[row] >= 0].tolist(), reverse=True)
        kept = set(c[r == row].tolist())
        rest = [int(block[row, j]) for j in range(m) if block[row, j] >= 0 and j not in kept]
        assert ceiling[row] == (-1 if not rest else ceiling[row]) and ceiling[row] >= max(rest, default=-1)
        in_flow = v[(r == row) & arcs].tolist()
        if len(eligible) <= width:
            assert sorted(in_flow, reverse=True) == eligible
        else:
            limit = eligible[width - 1]
            assert min(in_flow) >= limit
            assert sorted(x for x in in_flow if x > limit) == sorted(x for x in eligible if x > limit)
            assert len(in_flow) >= width


def open_index(n: int, m: int, need: int = 2, free: int = 3, blocked=None) -> Index:
    """Every proposal and expert open, in problem positions 0.. (no kept pairs)."""
    blocked = np.zeros(0, np.int64) if blocked is None else blocked
    return Index(np.arange(n), np.arange(m), np.full(n, need), np.full(m, free),
                 np.zeros(m, int), BlockedPairs(blocked, n, m), np.arange(n), np.arange(m))


def dense_case(seed: int, max_n: int, max_m: int, top: int, blocked_share: float,
               smallest: int = 1):
    """A random table of affinities in [0, top) with a share of its pairs blocked:
    (rng, n, m, table, blocked codes, index with everything open)."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(smallest, max_n)), int(rng.integers(smallest, max_m))
    table = rng.integers(0, top, (n, m))
    blocked = np.flatnonzero(rng.random(n * m) < blocked_share)
    return rng, n, m, table, blocked, open_index(n, m, blocked=blocked)


def test_tied_proposals_spread_over_tied_experts():
    # every pair worth the same: by expert number, all 200 proposals would take experts
    # 0-5 (and the flow could place 6 x 3 of their 400 evaluations); by tie order they
    # take a different six each, covering the pool
    n, m, width = 200, 300, 6
    block = np.full((n, m), 500, dtype=np.int16)
    r, c, v, arcs, ceiling = _select(open_index(n, m).keys(np.arange(n), block), 24, width)
    assert (np.bincount(r[arcs], minlength=n) == width).all()  # ties add no arcs
    assert len(set(c[arcs].tolist())) > 0.9 * m
    assert max(Counter(c[arcs].tolist()).values()) < 4 * n * width / m
    assert (v == 500).all() and (ceiling == 500).all()


@SOME
@given(st.integers(0, 10**9), st.integers(1, 5), st.integers(1, 7))
def test_each_experts_best_rows_survive_the_blocks_they_came_in(seed, width, group):
    # pricing shows the experts' lists blocks of rows and slices of pairs, and the lists
    # merge what waits every so many pairs (2**20; here every few)
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 40)), int(rng.integers(1, 30))
    keys = rng.permutation(n * m).reshape(n, m) * 3  # distinct: one answer
    keys[rng.random((n, m)) < 0.2] = -1  # not improving
    values = rng.integers(0, 1000, (n, m))
    columns = solver_pairs.ColumnBest(m, width, dtype=np.int64)
    original = limits.PAIRS_PER_SLICE
    limits.PAIRS_PER_SLICE = group + 1
    try:
        for start in range(0, n, group):
            rows = np.arange(start, min(n, start + group))
            if rng.random() < 0.5:  # a dense block, cut to its columns' best first
                r, c = np.nonzero(columns.candidates(keys[rows]))
            else:  # a slice of pairs
                r, c = np.nonzero(keys[rows] >= 0)
            columns.merge(rows[r], c, keys[rows[r], c], values[rows[r], c])
        rows, cols, vals = columns.pairs()
    finally:
        limits.PAIRS_PER_SLICE = original
    kept = set(zip(cols.tolist(), rows.tolist()))
    assert len(kept) == len(rows)
    assert (vals == values[rows, cols]).all()
    for col in range(m):
        eligible = np.flatnonzero(keys[:, col] >= 0)
        best = eligible[np.argsort(-keys[eligible, col], kind="stable")][:width]
        assert {(col, int(row)) for row in best} == {p for p in kept if p[0] == col}


@SOME
@given(st.integers(0, 10**9), st.integers(1, 5), st.integers(1, 7))
def test_each_experts_best_proposals_are_arcs_of_the_first_network(seed, width, group):
    rng, n, m, table, blocked, index = dense_case(seed, 40, 30, 8, 0.2)  # ties
    original = limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE
    limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE = group, 16 * (group + 1)
    try:
        store = collect(DenseModel(table), index, 1, 2, column_width=width)
    finally:
        limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE = original
    keys = index.keys(np.arange(n), table.astype(np.int16))
    keys[blocked // m, blocked % m] = -1
    arcs = set(zip(store.cols[store.in_flow].tolist(), store.rows[store.in_flow].tolist()))
    for col in range(m):
        eligible = np.flatnonzero(keys[:, col] >= 0)
        best = eligible[np.argsort(-keys[eligible, col], kind="stable")][:width]
        assert {(col, int(row)) for row in best} <= arcs
    assert (store.vals == table[store.rows, store.cols]).all()


@SOME
@given(st.integers(0, 10**9), st.integers(2, 9))
def test_widening_stores_each_rows_best_not_its_whole_row(seed, width):
    rng, n, m, table, blocked, index = dense_case(seed, 30, 60, 10, 0.2)
    model = DenseModel(table)
    store = collect(model, index, 1, 1)
    before = np.bincount(store.rows, minlength=n)
    rows = np.flatnonzero(rng.random(n) < 0.7)
    widths = np.full(n, width)
    pricing.widen(model, index, store, rows, widths)
    keys = index.keys(np.arange(n), table.astype(np.int16))
    keys[blocked // m, blocked % m] = -1
    for row in range(n):
        mine = store.rows == row
        stored = set(store.cols[mine].tolist())
        rest = [table[row, c] for c in range(m) if keys[row, c] >= 0 and c not in stored]
        assert store.ceiling[row] >= max(rest, default=-1)  # still bounds what is left
        assert (store.vals[mine] == table[row, store.cols[mine]]).all()
        if row in rows:
            eligible = np.flatnonzero(keys[row] >= 0)
            best = eligible[np.argsort(-keys[row, eligible], kind="stable")][:width]
            assert set(best.tolist()) <= set(store.cols[mine & store.in_flow].tolist())
            assert mine.sum() <= before[row] + width  # its best, not the whole row
        else:
            assert mine.sum() == before[row]


@SOME
@given(st.integers(0, 10**9))
def test_the_dealt_assignment_places_every_evaluation_the_loads_allow(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 40))
    cap = rng.integers(0, 9, m)
    need = rng.integers(1, 4, 80)
    need = need[np.cumsum(need) <= cap.sum()]  # as many proposals as the loads take
    n = len(need)
    index = Index(np.arange(n), np.arange(m), need, cap + rng.integers(0, 3, m),
                  np.zeros(m, int), BlockedPairs(np.zeros(0, np.int64), n, m),
                  np.arange(n), np.arange(m))
    rows, cols = solver_pairs.dealt(index, cap)
    assert (np.diff(rows) >= 0).all()
    assert np.bincount(rows, minlength=n).tolist() == need.tolist()
    assert (np.bincount(cols, minlength=m) <= cap).all()
    smallest_round = (cap == cap.max()).sum() if m and cap.max() else 0
    if n and smallest_round >= 2 * need.max():  # a proposal's slots meet one seam at most
        assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)


class DenseModel:
    """Affinities from a table: the pricing's bookkeeping without the text model."""

    def __init__(self, table: np.ndarray):
        self.table = table

    def _chunk(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.table[np.ix_(rows, cols)].astype(np.int16)


@SOME
@given(st.integers(0, 10**9), st.integers(1, 5))
def test_pricing_sums_every_eligible_pairs_gain_however_the_rows_are_grouped(seed, group):
    # groups of a few rows, as 50,000 proposals make groups of 1,024: a group's rows are
    # not contiguous, and the stored pairs of other groups' rows lie between them (their
    # prices were once wiped from this group's rows: a bound short by a few units, so two
    # candidate widths of one 50,000-proposal call were both "proven optimal" apart)
    rng, n, m, table, blocked, index = dense_case(seed, 40, 60, 100, 0.1, smallest=2)
    model = DenseModel(table)
    u, v = rng.integers(0, 90, n), rng.integers(0, 40, m)
    original = limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE
    # the stored pairs priced a few at a time too, as 7 million are in slices of 2**20
    limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE = group, group + 2
    try:
        store = collect(model, index, 1, 2)
        priced = price(model, index, store, u, v, per_row=2, per_col=2)
    finally:
        limits.ROWS_PER_CHUNK, limits.PAIRS_PER_SLICE = original
    gain = table - u[:, None] - v[None, :]
    gain[blocked // m, blocked % m] = 0
    assert priced.pair_part == int(np.maximum(gain, 0).sum())
    in_network = set(zip(store.rows[store.in_flow].tolist(), store.cols[store.in_flow].tolist()))
    added = list(zip(priced.add_rows.tolist(), priced.add_cols.tolist()))
    assert len(set(added)) == len(added)
    for (r, c), a in zip(added, priced.add_vals.tolist()):
        assert (r, c) not in in_network and a == table[r, c] and gain[r, c] > 0
    # each proposal's and each expert's two best improving pairs outside the network
    # (gain, then tie order)
    ties = index.row_tie[:, None] ^ index.col_tie[None, :]
    improving = {(r, c) for r in range(n) for c in range(m)
                 if gain[r, c] > 0 and (r, c) not in in_network}
    for r in range(n):
        best = sorted((c for c in range(m) if (r, c) in improving),
                      key=lambda c: (-gain[r, c], -ties[r, c]))[:2]
        assert {(r, c) for c in best} <= set(added)
    for c in range(m):
        best = sorted((r for r in range(n) if (r, c) in improving),
                      key=lambda r: (-gain[r, c], -ties[r, c]))[:2]
        assert {(r, c) for r in best} <= set(added)


@SOME
@given(st.integers(0, 10**9), st.integers(1, 8), st.floats(0, 1))
def test_the_cut_of_a_gains_block_keeps_each_rows_best(seed, per_row, share):
    # wide rows are cut at a sample's key; rows where the sample misleads are cut exactly
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 20)), int(rng.integers(1, 3000))
    gain = rng.integers(0, int(rng.integers(1, 50)), (n, m)) * (rng.random((n, m)) < share)
    keys = pricing._gain_keys(open_index(n, m), np.arange(n), np.arange(m), gain.copy())
    mask = pricing._among_best(keys, per_row)
    assert (keys[mask] >= 0).all()
    for row in range(n):
        best = np.sort(keys[row][keys[row] >= 0])[::-1][:per_row]
        assert np.isin(best, keys[row][mask[row]]).all()


def test_the_stored_pairs_and_the_networks_arcs_are_kept_in_the_smallest_types():
    # they live beside OR-Tools' own arrays at the solver's peak: 68 MB at 5 million arcs
    # between these and 64-bit copies
    rng = np.random.default_rng(3)
    n, m = 30, 20
    table = rng.integers(0, 100, (n, m))
    index = open_index(n, m, free=4)
    store = collect(DenseModel(table), index, 4, 8)
    assert store.codes.dtype == np.uint32  # the stored pairs too: they outlive every solve
    flow = solve_flow(index, store, 10, index.free)
    assert flow.shipped == 2 * n
    assert flow.pair_rows.dtype == flow.pair_cols.dtype == np.int32
    assert flow.pair_vals.dtype == np.int16
    assert (flow.pair_vals == table[flow.pair_rows, flow.pair_cols]).all()


def watch_the_solve(monkeypatch, at_solve) -> None:
    """OR-Tools' network, in the flow module, calls ``at_solve()`` when asked to solve:
    what the solver holds at its peak."""
    real = solver_flow.min_cost_flow.SimpleMinCostFlow

    class Watched:
        def __init__(self):
            self.inner = real()

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def solve_max_flow_with_min_cost(self):
            at_solve()
            return self.inner.solve_max_flow_with_min_cost()

    monkeypatch.setattr(solver_flow.min_cost_flow, "SimpleMinCostFlow", Watched)


def test_the_network_keeps_nothing_of_its_own_an_arc_while_or_tools_solves(monkeypatch):
    # OR-Tools holds about 0.1 kB an arc while it solves: the arcs' ends, values and
    # numbers kept beside it were 68 MB more at the solver child's peak (5 million arcs)
    rng = np.random.default_rng(4)
    n, m = 3000, 200
    table = rng.integers(0, 100, (n, m))
    index = open_index(n, m, free=40)
    store = collect(DenseModel(table), index, 8, 16)
    arcs = int(store.in_flow.sum())
    held = []
    watch_the_solve(monkeypatch,
                    lambda: held.append(tracemalloc.get_traced_memory()[0] - before))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flow = solve_flow(index, store, 10, index.free)
    finally:
        tracemalloc.stop()
    assert flow.shipped == 2 * n and len(flow.pair_rows) == arcs
    # the expert -> sink arcs' own arrays (one arc per load unit, 8,000 here) stay
    units = m * 40
    assert held[0] < 3 * 8 * units + 2 * arcs, (held, arcs)


def test_the_stored_and_blocked_pairs_wait_on_disk_while_or_tools_solves(monkeypatch):
    # the solver child's peak is OR-Tools' network on top of everything else resident:
    # at 100,000 x 30,000 the stored pairs (19 million) and the blocked pairs (33
    # million) set aside while OR-Tools solves took it from 1,125-1,163 to 1,005 MB
    rng = np.random.default_rng(5)
    n, m = 400, 60
    table = rng.integers(0, 100, (n, m))
    index = open_index(n, m, free=40, blocked=np.unique(rng.integers(0, n * m, 500)))
    blocked = index.blocked
    store = collect(DenseModel(table), index, 8, 16)
    kept = {name: getattr(store, name).copy() for name in ("codes", "vals", "in_flow")}
    experts = blocked.experts.copy()
    seen = []
    watch_the_solve(monkeypatch, lambda: seen.append(
        [held is None for held in (store.codes, store.vals, store.in_flow, blocked.experts)]))
    flow = solve_flow(index, store, 10, index.free)
    assert seen == [[True] * 4]  # one solve, with none of them in memory
    # read back as they were, types included, and the flow read from them after
    for name, before in kept.items():
        after = getattr(store, name)
        assert after.dtype == before.dtype and np.array_equal(after, before), name
    assert blocked.experts.dtype == experts.dtype and np.array_equal(blocked.experts, experts)
    assert flow.shipped == 2 * n and len(flow.pair_rows) == int(kept["in_flow"].sum())
    assert (flow.pair_vals == table[flow.pair_rows, flow.pair_cols]).all()


def test_arrays_set_aside_come_back_when_the_block_raises():
    class Holder:
        pass

    holder = Holder()
    holder.codes = np.arange(10, dtype=np.uint32) * 7
    holder.flags = np.array([True, False, True])
    with pytest.raises(RuntimeError, match="status 3"):
        with set_aside((holder, "codes"), (holder, "flags")):
            assert holder.codes is None and holder.flags is None
            raise RuntimeError("OR-Tools min-cost flow ended with status 3")
    assert holder.codes.dtype == np.uint32 and holder.codes.tolist() == list(range(0, 70, 7))
    assert holder.flags.tolist() == [True, False, True]


def test_a_full_disk_leaves_the_arrays_in_memory_and_the_solve_goes_on(monkeypatch, caplog):
    # /dev/full answers every write with ENOSPC, as a full temporary directory would
    monkeypatch.setattr(solver_resources.tempfile, "TemporaryFile",
                        lambda **_: open("/dev/full", "w+b"))
    rng = np.random.default_rng(7)
    n, m = 300, 40
    table = rng.integers(0, 100, (n, m))
    index = open_index(n, m, free=40)
    store = collect(DenseModel(table), index, 8, 16)
    codes = store.codes
    seen = []
    watch_the_solve(monkeypatch, lambda: seen.append(store.codes is codes))
    with caplog.at_level("WARNING", logger=solver_resources.__name__):
        flow = solve_flow(index, store, 10, index.free)
    assert seen == [True] and store.codes is codes
    assert "not set aside on disk" in caplog.text and "No space left" in caplog.text
    assert flow.shipped == 2 * n
    assert (flow.pair_vals == table[flow.pair_rows, flow.pair_cols]).all()


def test_the_affinity_pass_holds_each_blocks_codes_in_the_stores_type():
    # 64-bit parts, their concatenation and its 32-bit copy were the affinity pass's
    # peak at 100,000 x 30,000 (about 0.4 GB of codes for 19 million stored pairs)
    rng = np.random.default_rng(6)
    n, m = 20000, 40
    table = rng.integers(0, 100, (n, m))
    index = open_index(n, m, free=2000)
    tracemalloc.start()
    try:
        store = collect(DenseModel(table), index, 4, 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pairs = len(store.codes)
    assert store.codes.dtype == np.uint32 and pairs >= 16 * n
    # a stored pair is 7 bytes (code, value, arc or not), twice while the parts are
    # joined; 64-bit parts made it 26
    assert peak < 20 * pairs, (peak, pairs)


def test_two_candidate_widths_prove_the_same_optimum_on_an_instance_of_several_groups():
    # 2,500 proposals price in several groups of 1,024 rows; with the pricing's bug the
    # 6-candidate solve claimed 4,043,246 proven optimal, the 32-candidate one 4,043,251
    prob = bench_instance(2500, 1000, 3, 3)
    narrow = solve_assignment(prob, SolverOptions(candidates=6))
    wide = solve_assignment(prob, SolverOptions(candidates=32))
    check_valid(prob, narrow)
    assert narrow.status == wide.status == "optimal"
    assert narrow.objective == narrow.bound == wide.objective == wide.bound


# ------------------------------------------------------------------ determinism
def shuffled(prob: AssignmentProblem, seed: int) -> AssignmentProblem:
    rng = random.Random(seed)
    proposals, experts = list(prob.proposals), list(prob.experts)
    rng.shuffle(proposals)
    rng.shuffle(experts)
    return replace(prob, proposals=tuple(proposals), experts=tuple(experts),
                   conflicts=frozenset(prob.conflicts))


def test_the_same_problem_in_any_order_gives_the_same_pairs():
    # every pair is worth the same: only the order of ties decides who gets what
    proposals = [proposal(i, areas=["housing"], abstract="housing") for i in range(24)]
    experts = [expert(j, 4, areas=["housing"], keywords=["housing"]) for j in range(30)]
    conflicts = {(f"E-{j}", f"P-{i}") for i in range(24) for j in range(30) if (i * j) % 7 == 3}
    for prob in (problem(proposals, experts, k=3, conflicts=conflicts, load_penalty=0),
                 problem(proposals, experts, k=3, conflicts=conflicts, load_penalty=10),
                 bench_instance(150, 60, 3, 2)):
        first = solve_assignment(prob, SolverOptions(candidates=4))
        check_valid(prob, first)
        for seed in range(3):
            again = solve_assignment(shuffled(prob, seed), SolverOptions(candidates=4))
            assert again.pairs == first.pairs and again.objective == first.objective


def test_a_large_instance_is_proven_optimal_through_ceilings_and_repricing():
    prob = bench_instance(600, 150, 3, 12)
    sparse = solve_assignment(prob, SolverOptions(candidates=3))
    dense = solve_assignment(prob, SolverOptions(candidates=10_000))
    check_valid(prob, sparse, affinity_table(prob))
    assert sparse.status == dense.status == "optimal"
    assert sparse.objective == dense.objective == sparse.bound
    assert sparse.stats["stored"] < len(prob.proposals) * len(prob.experts) / 4
    loads = Counter(e for e, _ in sparse.pairs)
    assert max(loads.values()) <= max(e.max_load for e in prob.experts)


def test_where_every_proposal_likes_the_same_few_experts_the_first_network_places_all():
    # 270 proposals, 2 evaluators each, all liking the same 12 experts best: on their own
    # best lists (4 candidates) the network placed 36 of 540 evaluations and widened;
    # with the experts' own lists and the dealt assignment it places them all at once
    rng = random.Random(5)
    proposals = [proposal(i, areas=rng.sample(AREAS, 2), abstract="housing integration")
                 for i in range(270)]
    experts = ([expert(j, 3, areas=AREAS, keywords=["housing", "integration"])
                for j in range(12)]
               + [expert(j, 3, areas=[rng.choice(AREAS)]) for j in range(12, 200)])
    prob = problem(proposals, experts, k=2)
    sparse = solve_assignment(prob, SolverOptions(candidates=4))
    dense = solve_assignment(prob, SolverOptions(candidates=10_000))
    check_valid(prob, sparse, affinity_table(prob))
    assert sparse.stats["widenings"] == 0
    assert sparse.status == dense.status == "optimal"
    assert sparse.objective == dense.objective == sparse.bound


def test_no_weight_on_areas_values_a_pair_at_its_imported_score_alone():
    prob = problem([proposal(0, areas=["housing"]), proposal(1)],
                   [expert(0, 2, areas=["housing"]), expert(1, 2)], k=1,
                   weights=AffinityWeights(areas=0, text=1, scale=1000),
                   imported=ImportedScores.dense(["P-0", "P-1"], ["E-0", "E-1"],
                                                 np.array([[0.25, 0.5], [0.0015, 1.0]])),
                   load_penalty=0)
    result = solve_assignment(prob)
    assert result.pairs == (("E-1", "P-0"), ("E-1", "P-1")) and result.total_affinity == 1500
    assert AffinityModel(prob).block(np.arange(2), np.arange(2)).tolist() == [[250, 500],
                                                                            [2, 1000]]
    assert WORDS and AREAS  # the shared vocabulary stays the support module's
