"""Optimal expert assignment with OR-Tools min-cost flow, certified against the full problem.

:func:`solve_assignment` runs in this process (benchmark, tests, the worker). The service
calls :func:`services.evaluation.adapters.solver_worker.solve_assignment_isolated`, which
runs it in a child process, because OR-Tools has been seen to abort the whole process on
some inputs.

The objective is the one documented in :mod:`services.evaluation.domain.assignment`.
The flow network: each proposal supplies the evaluators it still needs; arc proposal ->
expert (capacity 1, cost -affinity) for candidate pairs; expert -> sink one arc per free
load unit, the j-th costing ``load_penalty * (kept + j - 1)`` (convex, so the cheapest
units fill first and min cost = max of the objective).

Large instances use candidate arcs only (the best ``candidates`` experts per proposal).
Optimality for the *full* problem is then proven, not assumed. For any multipliers
``u`` (one per proposal) and ``v`` (one per expert)::

    UB(u, v) = const + sum_p need_p * u_p + sum_(p,e) eligible max(0, a_pe - u_p - v_e)
                     + sum_e sum_(free units j) max(0, v_e - cost_ej)

bounds the full problem from above (Lagrangian relaxation of the "k per proposal" and
"flow through the expert" constraints; the sum runs over every eligible pair, not only
the candidates). The multipliers come from the sparse optimum: shortest-path potentials
of its residual network (vectorised Bellman-Ford), raised as far as complementary
slackness allows. With them, UB equals the sparse optimum plus the positive
``a_pe - u_p - v_e`` of pairs outside the graph; those pairs are added and the sparse
problem solved again (column generation) until none is left (``UB`` equals the objective:
proven optimal, ``gap`` 0) or the round/time budget ends (``gap`` = relative distance to
``UB``, an honest figure either way). When the sparse graph is infeasible its min cut
names the blocked proposals; their candidate lists are doubled until either a flow exists
or the cut only uses complete lists, which proves the full problem infeasible and names
the group in words.
"""
from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from services.evaluation.domain.affinity import (
    AreaIndex, affinity_scores, expert_text, proposal_text)
from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, diagnose, group_shortfall, load_cost, needs,
    remaining_loads)

_ROWS_PER_CHUNK = 1024  # affinity rows computed at once: bounds temporary memory


@dataclass(frozen=True)
class SolverOptions:
    """``candidates``: arcs per proposal in the first sparse graph (raised to 2k at
    least); ``max_rounds``: column-generation rounds before settling for a gap;
    ``time_limit``: seconds after which no new round starts (None: no limit)."""

    candidates: int = 32
    max_rounds: int = 10
    time_limit: float | None = None


# ------------------------------------------------------------------------ affinity
class AffinityModel:
    """Affinities of a problem's pairs: TF-IDF (scikit-learn) over proposal abstracts and
    expert keywords, plus integration-area overlap, combined as the domain defines.

    The IDF is fitted on every proposal and expert of the problem, so a repair (same
    proposals and pool) sees exactly the affinities the first assignment saw.
    """

    def __init__(self, problem: AssignmentProblem):
        from sklearn.feature_extraction.text import TfidfVectorizer  # ~1 s import: lazy

        self.weights = problem.weights
        p_texts = [proposal_text(p.abstract) for p in problem.proposals]
        e_texts = [expert_text(e.keywords) for e in problem.experts]
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True,
                                     dtype=np.float64)
        try:
            both = vectorizer.fit_transform(p_texts + e_texts).tocsr()  # tokenise once
            self._p, self._e = both[:len(p_texts)], both[len(p_texts):]
        except ValueError:  # empty vocabulary: no text at all, text similarity is 0
            self._p = csr_matrix((len(p_texts), 1))
            self._e = csr_matrix((len(e_texts), 1))
        self._areas = AreaIndex([p.integration_areas for p in problem.proposals],
                                [e.expertise_areas for e in problem.experts])

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int16 affinities of proposals ``rows`` x experts ``cols`` (problem order)."""
        out = np.empty((len(rows), len(cols)), dtype=np.int16)
        experts = self._e[cols]
        # only terms some expert uses can score: densify the proposals on those alone
        terms = np.unique(experts.indices)
        experts = experts[:, terms].tocsr()
        proposals = self._p[:, terms].tocsr()
        for start in range(0, len(rows), _ROWS_PER_CHUNK):
            chunk = rows[start:start + _ROWS_PER_CHUNK]
            dense = proposals[chunk].toarray().T  # terms x chunk
            text = np.asarray(experts @ dense)  # sparse experts x dense: the cheap side
            area = self._areas.overlap(chunk, cols, transposed=True)
            out[start:start + len(chunk)] = affinity_scores(area, text, self.weights).T
        return out

    def pairs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64 affinities of the pairs ``(rows[i], cols[i])``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        text = np.asarray(self._p[rows].multiply(self._e[cols]).sum(axis=1)).ravel()
        area = self._areas.pair_overlap(rows, cols)
        return affinity_scores(area, text.astype(np.float64), self.weights).astype(np.int64)


# ------------------------------------------------------------------------ indexing
@dataclass
class _Index:
    """Positions: open proposals (still needing evaluators) are rows, open experts
    (free load) are columns; problem order is kept so results are deterministic."""

    rows: np.ndarray  # problem index of each open proposal
    cols: np.ndarray  # problem index of each open expert
    need: np.ndarray  # per row
    free: np.ndarray  # per column: new assignments it may take
    kept: np.ndarray  # per column: kept assignments (they set the first unit's cost)
    blocked_rows: np.ndarray  # (row, col) pairs forbidden or already kept
    blocked_cols: np.ndarray

    @classmethod
    def of(cls, problem: AssignmentProblem) -> "_Index":
        need, free = needs(problem), remaining_loads(problem)
        rows = np.array([i for i, p in enumerate(problem.proposals) if need[p.id] > 0],
                        dtype=np.int64)
        cols = np.array([j for j, e in enumerate(problem.experts) if free[e.id] > 0],
                        dtype=np.int64)
        row_of = {problem.proposals[i].id: r for r, i in enumerate(rows)}
        col_of = {problem.experts[j].id: c for c, j in enumerate(cols)}
        kept = Counter(e for e, _ in problem.fixed)
        blocked = problem.forbidden | problem.fixed
        experts, proposals = [e for e, _ in blocked], [p for _, p in blocked]
        # map() keeps the per-pair work in C: a large call has ~10^6 conflicted pairs
        b_rows = np.fromiter(map(row_of.get, proposals, repeat(-1)), np.int64, len(proposals))
        b_cols = np.fromiter(map(col_of.get, experts, repeat(-1)), np.int64, len(experts))
        inside = (b_rows >= 0) & (b_cols >= 0)
        return cls(rows, cols,
                   np.array([need[problem.proposals[i].id] for i in rows], dtype=np.int64),
                   np.array([free[problem.experts[j].id] for j in cols], dtype=np.int64),
                   np.array([kept[problem.experts[j].id] for j in cols], dtype=np.int64),
                   b_rows[inside], b_cols[inside])


# ------------------------------------------------------------------------ flow graph
@dataclass
class _Flow:
    """One solved sparse network."""

    pair_rows: np.ndarray
    pair_cols: np.ndarray
    pair_flow: np.ndarray
    unit_cols: np.ndarray
    unit_caps: np.ndarray
    unit_cost: np.ndarray
    unit_flow: np.ndarray
    shipped: int
    cost: int


def _unit_arcs(index: _Index, penalty: int,
               cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expert -> sink arcs: (column, capacity, unit cost). With a penalty, one arc per
    load unit costing penalty*(kept + j - 1); without, one arc per expert at cost 0."""
    units = np.minimum(index.free, cap)
    if penalty == 0:
        return np.arange(len(units)), units, np.zeros(len(units), dtype=np.int64)
    cols = np.repeat(np.arange(len(units)), units)
    starts = np.cumsum(units) - units
    j = np.arange(len(cols)) - np.repeat(starts, units)  # 0-based unit number
    return cols, np.ones(len(cols), dtype=np.int64), penalty * (index.kept[cols] + j)


def _solve_flow(index: _Index, affinity: np.ndarray, cand: np.ndarray, penalty: int,
                unit_cap: np.ndarray) -> _Flow:
    """Max flow at min cost on the candidate network (OR-Tools)."""
    n_rows, n_cols = affinity.shape
    sink = n_rows + n_cols
    rows, cols = np.nonzero(cand)
    u_cols, u_caps, u_cost = _unit_arcs(index, penalty, unit_cap)
    tails = np.concatenate([rows, n_rows + u_cols]).astype(np.int32)
    heads = np.concatenate([n_rows + cols, np.full(len(u_cols), sink)]).astype(np.int32)
    caps = np.concatenate([np.ones(len(rows), dtype=np.int64), u_caps]).astype(np.int64)
    costs = np.concatenate([-affinity[rows, cols].astype(np.int64), u_cost]).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    demand = int(index.need.sum())
    smcf.set_nodes_supplies(np.r_[np.arange(n_rows), sink].astype(np.int32),
                            np.r_[index.need, -demand].astype(np.int64))
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"OR-Tools min-cost flow ended with status {status}")
    flows = np.asarray(smcf.flows(np.asarray(arcs, dtype=np.int32)), dtype=np.int64)
    n = len(rows)
    return _Flow(rows, cols, flows[:n], u_cols, u_caps, u_cost, flows[n:],
                 int(smcf.maximum_flow()), int(smcf.optimal_cost()))


def _blocked_rows(flow: _Flow, need: np.ndarray, n_cols: int) -> np.ndarray:
    """Rows on the source side of a min cut of an infeasible flow: the proposals that,
    together, cannot get the evaluators they need (with the arcs present)."""
    n_rows = len(need)
    sink, root = n_rows + n_cols, n_rows + n_cols + 1
    shipped = np.bincount(flow.pair_rows, weights=flow.pair_flow, minlength=n_rows)
    short = np.flatnonzero(shipped < need)
    used = flow.pair_flow > 0
    room = flow.unit_flow < flow.unit_caps
    loaded = flow.unit_flow > 0
    # residual arcs: unused pair p->e, used pair e->p, unit e->t with room, t->e if used
    tails = np.concatenate([np.where(used, n_rows + flow.pair_cols, flow.pair_rows),
                            n_rows + flow.unit_cols[room],
                            np.full(int(loaded.sum()), sink),
                            np.full(len(short), root)])
    heads = np.concatenate([np.where(used, flow.pair_rows, n_rows + flow.pair_cols),
                            np.full(int(room.sum()), sink),
                            n_rows + flow.unit_cols[loaded],
                            short])
    graph = csr_matrix((np.ones(len(tails)), (tails, heads)), shape=(root + 1, root + 1))
    reached = breadth_first_order(graph, root, directed=True, return_predecessors=False)
    return np.sort(reached[reached < n_rows])


def _potentials(flow: _Flow, affinity: np.ndarray, n_rows: int,
                n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers (u per row, v per column) from shortest-path distances on the
    residual network of an optimal flow (Bellman-Ford from a virtual root, vectorised)."""
    sink = n_rows + n_cols
    used = flow.pair_flow > 0
    a = affinity[flow.pair_rows, flow.pair_cols].astype(np.int64)
    full = flow.unit_flow >= flow.unit_caps
    tails = np.concatenate([np.where(used, n_rows + flow.pair_cols, flow.pair_rows),
                            n_rows + flow.unit_cols[~full],
                            np.full(int((flow.unit_flow > 0).sum()), sink)])
    heads = np.concatenate([np.where(used, flow.pair_rows, n_rows + flow.pair_cols),
                            np.full(int((~full).sum()), sink),
                            n_rows + flow.unit_cols[flow.unit_flow > 0]])
    costs = np.concatenate([np.where(used, a, -a), flow.unit_cost[~full],
                            -flow.unit_cost[flow.unit_flow > 0]])
    order = np.argsort(heads, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]]) if len(heads) else heads
    targets = heads[starts]
    dist = np.zeros(sink + 1, dtype=np.int64)  # 0: a 0-cost arc from the virtual root
    for _ in range(sink + 2):
        best = np.minimum.reduceat(dist[tails] + costs, starts) if len(heads) else heads
        improved = best < dist[targets]
        if not improved.any():
            break
        dist[targets[improved]] = best[improved]
    else:
        raise RuntimeError("negative cycle in the residual network: flow not optimal")
    return dist[:n_rows] - dist[sink], dist[sink] - dist[n_rows:sink]


def _lift(u: np.ndarray, v: np.ndarray, flow: _Flow,
          affinity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raise the multipliers as far as the sparse optimum's complementary slackness
    allows, so fewer outside pairs look improving.

    Any (u, v) gives a valid bound, and every (u, v) in complementary slackness with the
    sparse optimum makes it exact on the sparse graph; shortest-path potentials leave
    experts the candidate arcs barely reach at a very low v. Each v_e rises to its
    ceiling (the cost of its next free load unit; a - u_p on its assigned pairs), then
    each u_p to its own (a - v_e on its assigned pairs). Lower limits (unassigned arcs,
    used load units) only ever bound from below, so raising keeps them.
    """
    top = np.iinfo(np.int64).max
    used = flow.pair_flow > 0
    rows, cols = flow.pair_rows[used], flow.pair_cols[used]
    a = affinity[rows, cols].astype(np.int64)
    room = flow.unit_flow < flow.unit_caps
    ceiling = np.full(len(v), top, dtype=np.int64)
    np.minimum.at(ceiling, flow.unit_cols[room], flow.unit_cost[room])
    np.minimum.at(ceiling, cols, a - u[rows])
    v = np.where(ceiling < top, ceiling, v)
    ceiling = np.full(len(u), top, dtype=np.int64)
    np.minimum.at(ceiling, rows, a - v[cols])
    return np.where(ceiling < top, ceiling, u), v


def _price(affinity: np.ndarray, u: np.ndarray, v: np.ndarray, cand: np.ndarray,
           per_row: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Sum over all eligible pairs of max(0, a - u - v), and the best ``per_row``
    improving non-candidate pairs of each row (the columns to add)."""
    total = 0
    add_rows, add_cols = [], []
    # int32 halves the memory traffic; int64 only if the multipliers could overflow it
    small = max(np.abs(u).max(initial=0), np.abs(v).max(initial=0)) < 2**29
    kind = np.int32 if small else np.int64
    u, v = u.astype(kind), v.astype(kind)
    for start in range(0, affinity.shape[0], _ROWS_PER_CHUNK):
        block = affinity[start:start + _ROWS_PER_CHUNK]
        gain = block.astype(kind)
        gain -= u[start:start + len(block), None]
        gain -= v[None, :]
        gain[block < 0] = 0  # blocked pairs are not in the problem
        np.maximum(gain, 0, out=gain)
        total += int(gain.sum(dtype=np.int64))
        gain[cand[start:start + len(block)]] = 0
        rows = np.flatnonzero(gain.max(axis=1) > 0)
        if rows.size:
            sub = gain[rows]
            take = min(per_row, sub.shape[1])
            best = np.argpartition(-sub, take - 1, axis=1)[:, :take]
            keep = np.take_along_axis(sub, best, axis=1) > 0
            add_rows.append(np.repeat(rows + start, take)[keep.ravel()])
            add_cols.append(best.ravel()[keep.ravel()])
    if not add_rows:
        return total, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return total, np.concatenate(add_rows), np.concatenate(add_cols)


def _add_top(cand: np.ndarray, affinity: np.ndarray, rows: np.ndarray, width: np.ndarray):
    """Mark the ``width[r]`` best eligible columns of each row r in ``rows`` candidates."""
    n_cols = affinity.shape[1]
    for w in np.unique(width[rows]):
        group = rows[width[rows] == w]
        for start in range(0, len(group), _ROWS_PER_CHUNK):
            chunk = group[start:start + _ROWS_PER_CHUNK]
            block = affinity[chunk]
            if w >= n_cols:
                cand[chunk] |= block >= 0
                continue
            best = np.argpartition(-block, int(w) - 1, axis=1)[:, :int(w)]
            eligible = np.take_along_axis(block, best, axis=1) >= 0
            cand[np.repeat(chunk, int(w))[eligible.ravel()], best.ravel()[eligible.ravel()]] = True


# ------------------------------------------------------------------------ solve
def solve_assignment(problem: AssignmentProblem, options: SolverOptions = SolverOptions(),
                     progress: Callable[[str], None] | None = None) -> AssignmentResult:
    """Compute the optimal assignment of ``problem`` in this process.

    Infeasible problems give an ``infeasible`` result with a diagnosis; this function
    only raises on bugs (the isolated variant turns those into ``error`` results).
    ``progress``, if given, receives one line per phase and round (the benchmark prints
    them).
    """
    clock = _Clock(progress)
    shortfalls = diagnose(problem)
    clock.lap("diagnose")
    if shortfalls:
        return AssignmentResult("infeasible", diagnosis=tuple(s.message for s in shortfalls),
                                stats=clock.stats())
    index = _Index.of(problem)
    clock.lap("index")
    model = AffinityModel(problem)
    affinity = model.block(index.rows, index.cols)
    if index.blocked_rows.size:
        affinity[index.blocked_rows, index.blocked_cols] = -1  # never an arc
    clock.lap("affinity", f"{affinity.shape[0]} x {affinity.shape[1]} pairs")
    kept_value, kept_cost = _kept_part(problem, model)
    if index.rows.size == 0:  # every slot kept: nothing to choose
        none = np.zeros(0, dtype=np.int64)
        return _result(problem, index, affinity, none, none, kept_value,
                       kept_value - kept_cost, clock, "optimal")
    outcome = _optimise(problem, index, affinity, options, clock)
    if isinstance(outcome, AssignmentResult):
        return outcome
    rows, cols, lagrangian = outcome
    return _result(problem, index, affinity, rows, cols, kept_value,
                   kept_value - kept_cost + lagrangian, clock, None)


def _optimise(problem, index, affinity, options, clock):
    """Column generation over sparse candidate networks; returns (rows, cols, lagrangian
    bound without the kept constant) or an infeasible result."""
    n_rows, n_cols = affinity.shape
    eligible = (affinity >= 0).sum(axis=1)
    width = np.full(n_rows, max(options.candidates, 2 * problem.evaluators_per_proposal))
    cand = np.zeros(affinity.shape, dtype=bool)
    _add_top(cand, affinity, np.arange(n_rows), width)
    clock.lap("candidates", f"{int(width[0])} per proposal")
    # an expert never takes more than the proposals it may evaluate: cap its units there
    unit_cap = np.minimum(index.free, (affinity >= 0).sum(axis=0))
    rounds = widenings = 0
    while True:
        flow = _solve_flow(index, affinity, cand, problem.load_penalty, unit_cap)
        clock.lap("solve", f"{len(flow.pair_rows)} arcs, {flow.shipped} evaluations placed")
        if flow.shipped < int(index.need.sum()):
            widenings += 1
            if widenings > 64:  # doubling reaches every column long before this
                raise RuntimeError("candidate lists stopped growing")
            stuck = _blocked_rows(flow, index.need, n_cols)
            open_rows = stuck[cand[stuck].sum(axis=1) < eligible[stuck]]
            if open_rows.size == 0:
                return _infeasible(problem, index, stuck, flow, clock)
            width[open_rows] *= 2  # the cut may be an artefact of missing arcs: widen
            _add_top(cand, affinity, open_rows, width)
            clock.lap("candidates", f"sparse graph infeasible: widened {open_rows.size} lists")
            continue
        rounds += 1
        u, v = _lift(*_potentials(flow, affinity, n_rows, n_cols), flow, affinity)
        clock.lap("duals")
        pair_part, add_rows, add_cols = _price(affinity, u, v, cand, width.min())
        units_part = _units_part(flow, v)
        bound = int(index.need @ u) + pair_part + units_part
        clock.lap("pricing", f"round {rounds}: flow value {-flow.cost}, "
                             f"bound {bound}, {add_rows.size} improving pairs outside")
        chosen = flow.pair_flow > 0
        out_of_time = options.time_limit is not None and clock.total() > options.time_limit
        if add_rows.size == 0 or rounds >= options.max_rounds or out_of_time:
            clock.note(rounds=rounds, widenings=widenings, arcs=int(len(flow.pair_rows)))
            return flow.pair_rows[chosen], flow.pair_cols[chosen], bound
        cand[add_rows, add_cols] = True


def _units_part(flow: _Flow, v: np.ndarray) -> int:
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


def _result(problem, index, affinity, rows, cols, kept_value, bound, clock, status):
    """Assemble the result: every pair, the objective, the gap.

    New pairs are valued from the matrix the solver optimised, kept pairs as the bound's
    constant was, so objective and bound are computed from the same numbers.
    """
    new_pairs = [(problem.experts[index.cols[c]].id, problem.proposals[index.rows[r]].id)
                 for r, c in zip(rows.tolist(), cols.tolist())]
    pairs = sorted(set(new_pairs) | problem.fixed)
    total = kept_value + int(affinity[rows, cols].astype(np.int64).sum())
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


class _Clock:
    """Wall-clock laps for the result's ``stats`` (seconds per phase, summed)."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._start = self._last = time.perf_counter()
        self._laps: dict[str, float] = {}
        self._progress = progress

    def lap(self, name: str, detail: str = ""):
        now = time.perf_counter()
        self._laps[f"{name}_s"] = self._laps.get(f"{name}_s", 0.0) + now - self._last
        if self._progress:
            self._progress(f"{name} {now - self._last:.2f} s" + (f": {detail}" if detail else ""))
        self._last = now

    def note(self, **values):
        self._laps.update(values)

    def total(self) -> float:
        return time.perf_counter() - self._start

    def stats(self) -> dict:
        return {**self._laps, "total_s": self.total(),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
