"""The solve: rounds of flow and pricing until the bound equals the objective (proven
optimal) or the round or time budget ends (an honest gap), and the result."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, diagnose, group_shortfall, load_cost)
from services.evaluation.adapters.solver import limits
from services.evaluation.adapters.solver.affinity import AffinityModel
from services.evaluation.adapters.solver.flow import (
    Flow, blocked_rows, lift, potentials, solve_flow)
from services.evaluation.adapters.solver.index import Index
from services.evaluation.adapters.solver.options import SolverOptions
from services.evaluation.adapters.solver.pairs import collect, dealt
from services.evaluation.adapters.solver.pricing import price, widen
from services.evaluation.adapters.solver.resources import Clock, return_freed_memory


def canonical(problem: AssignmentProblem) -> AssignmentProblem:
    """The problem with proposals and experts sorted by id: the order the solver works
    in, whatever order the database or the events gave."""
    proposals = tuple(sorted(problem.proposals, key=lambda p: p.id))
    experts = tuple(sorted(problem.experts, key=lambda e: e.id))
    if proposals == problem.proposals and experts == problem.experts:
        return problem
    return replace(problem, proposals=proposals, experts=experts)


def solve_assignment(problem: AssignmentProblem, options: SolverOptions = SolverOptions(),
                     progress: Callable[[str], None] | None = None) -> AssignmentResult:
    """Compute the optimal assignment of ``problem`` in this process.

    Infeasible problems give an ``infeasible`` result with a diagnosis; this function
    only raises on bugs (the isolated variant turns those into ``error`` results).
    ``progress``, if given, receives one line per phase and round (the benchmark prints
    them).
    """
    clock = Clock(progress)
    problem = canonical(problem)
    shortfalls = diagnose(problem)
    clock.lap("diagnose")
    if shortfalls:
        return AssignmentResult("infeasible", diagnosis=tuple(s.message for s in shortfalls),
                                stats=clock.stats())
    index = Index.of(problem)
    clock.lap("index")
    model = AffinityModel(problem)
    # from here on nothing reads the abstracts or the pair sets (the blocked pairs have
    # them); where the caller has handed the problem over (the solver's child) they are
    # freed with it
    problem = problem.for_solving()
    return_freed_memory()
    clock.lap("model")
    kept_value, kept_cost = _kept_part(problem, model)
    if index.rows.size == 0:  # every slot kept: nothing to choose
        none = np.zeros(0, dtype=np.int64)
        return _result(problem, index, none, none, none, kept_value,
                       kept_value - kept_cost, clock, "optimal")
    outcome = _optimise(problem, index, model, options, clock)
    if isinstance(outcome, AssignmentResult):
        return outcome
    rows, cols, vals, lagrangian = outcome
    return _result(problem, index, rows, cols, vals, kept_value,
                   kept_value - kept_cost + lagrangian, clock, None)


def _optimise(problem, index, model, options, clock):
    """Column generation over sparse candidate networks; returns (rows, cols, values,
    lagrangian bound without the kept constant) or an infeasible result."""
    n_rows, n_cols = len(index.rows), len(index.cols)
    first = max(options.candidates, 2 * problem.evaluators_per_proposal)
    # an expert never takes more than the proposals it may evaluate: cap its units there
    unit_cap = np.minimum(index.free, index.eligible_per_col())
    # arcs per expert from its own side, twice the largest load an expert may take:
    # enough that its load can be placed with choice left (in the first network, and a
    # pricing round's)
    per_expert = min(limits.COLUMN_CANDIDATES_MAX, 2 * int(unit_cap.max(initial=0)))
    model.prepare(index.cols)  # before the threads share it
    store = collect(model, index, first, limits.STORED_PER_CANDIDATE * first, options.threads,
                    per_expert, dealt(index, unit_cap))
    clock.lap("affinity", f"{n_rows} x {n_cols} pairs, {len(store.codes)} stored, "
                          f"{first} per proposal, {per_expert} per expert and one dealt "
                          "assignment in the network")
    eligible = index.eligible_per_row()
    width = np.full(n_rows, first)
    rounds = widenings = repriced = 0
    while True:
        flow = solve_flow(index, store, problem.load_penalty, unit_cap)
        clock.lap("solve", f"{len(flow.pair_rows)} arcs, {flow.shipped} evaluations placed")
        if flow.shipped < int(index.need.sum()):
            widenings += 1
            if widenings > 64:  # doubling reaches every column long before this
                raise RuntimeError("candidate lists stopped growing")
            stuck = blocked_rows(flow, index.need, n_cols)
            arcs = np.bincount(flow.pair_rows, minlength=n_rows)
            open_rows = stuck[arcs[stuck] < eligible[stuck]]
            if open_rows.size == 0:
                return _infeasible(problem, index, stuck, flow, clock)
            width[open_rows] = np.maximum(width[open_rows], arcs[open_rows]) * 2
            widen(model, index, store, open_rows, width, options.threads)
            clock.lap("candidates", f"sparse graph infeasible: widened {open_rows.size} lists")
            continue
        rounds += 1
        u, v = lift(*potentials(flow, n_rows, n_cols), flow)
        clock.lap("duals")
        priced = price(model, index, store, u, v, int(width.min()), options.threads,
                       per_expert)
        repriced += priced.repriced
        bound = int(index.need @ u) + priced.pair_part + _units_part(flow, v)
        clock.lap("pricing", f"round {rounds}: flow value {-flow.cost}, bound {bound}, "
                             f"{priced.add_rows.size} improving pairs outside, "
                             f"{priced.repriced} proposals recomputed")
        chosen = flow.pair_flow > 0
        out_of_time = options.time_limit is not None and clock.total() > options.time_limit
        if priced.add_rows.size == 0 or rounds >= options.max_rounds or out_of_time:
            clock.note(rounds=rounds, widenings=widenings, arcs=int(len(flow.pair_rows)),
                       stored=int(len(store.codes)), repriced=repriced)
            return (flow.pair_rows[chosen], flow.pair_cols[chosen], flow.pair_vals[chosen],
                    bound)
        store.add(priced.add_rows, priced.add_cols, priced.add_vals, in_flow=True)
        # this round's network is not needed any more: without this it stays alive
        # beside the next one while that one is built and solved
        del flow, priced, chosen


def _units_part(flow: Flow, v: np.ndarray) -> int:
    """sum over expert->sink arcs of capacity * max(0, v_e - unit cost)."""
    return int((flow.unit_caps * np.maximum(v[flow.unit_cols] - flow.unit_cost, 0)).sum())


def _kept_part(problem: AssignmentProblem, model: AffinityModel) -> tuple[int, int]:
    """Affinity of the kept pairs and the load cost of the kept loads (constants)."""
    p_pos = {p.id: i for i, p in enumerate(problem.proposals)}
    e_pos = {e.id: j for j, e in enumerate(problem.experts)}
    pairs = sorted(problem.fixed)
    value = int(model.pairs(np.array([p_pos[p] for _, p in pairs], dtype=np.int64),
                            np.array([e_pos[e] for e, _ in pairs], dtype=np.int64)).sum())
    loads = Counter(e for e, _ in pairs)
    return value, sum(load_cost(n, problem.load_penalty) for n in loads.values())


def _infeasible(problem, index, stuck_rows, flow, clock) -> AssignmentResult:
    ids = [problem.proposals[i].id for i in index.rows[stuck_rows]]
    shortfall = group_shortfall(problem, ids)
    message = shortfall.message if shortfall else (
        f"only {flow.shipped} of {int(index.need.sum())} evaluations can be assigned")
    return AssignmentResult("infeasible", diagnosis=(message,), stats=clock.stats())


def _result(problem, index, rows, cols, vals, kept_value, bound, clock, status):
    """Assemble the result: every pair, the objective, the gap.

    New pairs are valued as the solver valued them, kept pairs as the bound's constant
    was, so objective and bound are computed from the same numbers.
    """
    new_pairs = [(problem.experts[index.cols[c]].id, problem.proposals[index.rows[r]].id)
                 for r, c in zip(rows.tolist(), cols.tolist())]
    pairs = sorted(set(new_pairs) | problem.fixed)
    total = kept_value + int(vals.astype(np.int64).sum())
    loads = Counter(e for e, _ in pairs)
    cost = sum(load_cost(n, problem.load_penalty) for n in loads.values())
    objective = total - cost
    if bound < objective:
        raise RuntimeError(f"bound {bound} below objective {objective}: certification bug")
    gap = (bound - objective) / max(abs(bound), 1)
    clock.lap("result")
    return AssignmentResult(
        status=status or ("optimal" if gap == 0 else "feasible"),
        pairs=tuple(pairs), new_pairs=tuple(sorted(new_pairs)), total_affinity=total,
        load_cost=cost, objective=objective, bound=bound, gap=gap, stats=clock.stats())
