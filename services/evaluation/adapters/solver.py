"""Optimal expert assignment with OR-Tools min-cost flow, certified against the full problem.

Two entry points:

* :func:`solve_assignment` runs in this process (benchmark, tests, the worker itself);
* :func:`solve_assignment_isolated` runs it in a child process
  (``python -m services.evaluation.adapters.solver_worker``, JSON over stdin/stdout, a
  timeout), because OR-Tools has been seen to abort the whole process on some inputs: a
  dead, hung or babbling child becomes an ``error`` result, never a dead service. It uses
  :mod:`subprocess`, which eventlet's monkey patch makes cooperative.

The objective is the one documented in :mod:`services.evaluation.domain.assignment`.
The flow network: each proposal supplies the evaluators it still needs; arc proposal ->
expert (capacity 1, cost -affinity) for candidate pairs; expert -> sink one arc per free
load unit, the j-th costing ``load_penalty * (kept + j - 1)`` (convex, so the cheapest
units fill first and min cost = max of the objective).

Large instances use candidate arcs only (the best ``candidates`` experts per proposal).
Optimality for the *full* problem is then proven, not assumed: node potentials of the
sparse optimum (Bellman-Ford on its residual graph) give Lagrangian multipliers ``u``
(proposals) and ``v`` (experts), and for any such multipliers::

    UB(u, v) = const + sum_p need_p * u_p + sum_(p,e) eligible max(0, a_pe - u_p - v_e)
                     + sum_e sum_(free units j) max(0, v_e - cost_ej)

bounds the full problem from above (weak Lagrangian duality over every eligible pair).
Pairs with ``a_pe - u_p - v_e > 0`` are the only ones that could improve the solution;
they are added and the sparse problem re-solved (column generation) until none is left
(``UB`` equals the objective: proven optimal, ``gap`` 0) or the round/time budget ends
(``gap`` = relative distance to ``UB``, an honest figure). When the sparse graph is
infeasible its min cut names the blocked proposals; their candidate lists are doubled
until either a flow exists or the cut only uses complete lists, which proves the full
problem infeasible and names the group in words.
"""
from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from services.evaluation.domain.affinity import (
    AffinityWeights, AreaIndex, affinity_scores, expert_text, proposal_text)
from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, Expert, ProposalToAssign, diagnose,
    group_shortfall, load_cost, needs, remaining_loads)

WORKER_MODULE = "services.evaluation.adapters.solver_worker"
PROTOCOL = 1
_ROWS_PER_CHUNK = 1024  # affinity rows computed at once: bounds temporary memory


@dataclass(frozen=True)
class SolverOptions:
    """``candidates``: arcs per proposal in the first sparse graph (raised to 2k at
    least); ``max_rounds``: column-generation rounds before settling for a gap;
    ``time_limit``: seconds after which no new round starts (None: no limit)."""

    candidates: int = 24
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
            vectorizer.fit(p_texts + e_texts)
            self._p = vectorizer.transform(p_texts).tocsr()
            self._e = vectorizer.transform(e_texts).tocsr()
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
            text = np.asarray(experts @ dense).T  # sparse experts x dense: cheap side
            out[start:start + len(chunk)] = affinity_scores(
                self._areas.overlap(chunk, cols), text, self.weights)
        return out

    def pairs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64 affinities of the pairs ``(rows[i], cols[i])``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        text = np.asarray(self._p[rows].multiply(self._e[cols]).sum(axis=1)).ravel()
        area = self._areas.pair_overlap(rows, cols)
        return affinity_scores(area, text, self.weights).astype(np.int64)


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
        blocked = [(row_of[p], col_of[e]) for e, p in problem.forbidden | problem.fixed
                   if p in row_of and e in col_of]
        blocked = np.array(sorted(blocked), dtype=np.int64).reshape(-1, 2)
        return cls(rows, cols,
                   np.array([need[problem.proposals[i].id] for i in rows], dtype=np.int64),
                   np.array([free[problem.experts[j].id] for j in cols], dtype=np.int64),
                   np.array([kept[problem.experts[j].id] for j in cols], dtype=np.int64),
                   blocked[:, 0], blocked[:, 1])


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


def _unit_arcs(index: _Index, penalty: int, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _price(affinity: np.ndarray, u: np.ndarray, v: np.ndarray, cand: np.ndarray,
           per_row: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Sum over all eligible pairs of max(0, a - u - v), and the best ``per_row``
    improving non-candidate pairs of each row (the columns to add)."""
    total = 0
    add_rows, add_cols = [], []
    for start in range(0, affinity.shape[0], _ROWS_PER_CHUNK):
        block = affinity[start:start + _ROWS_PER_CHUNK]
        gain = block.astype(np.int64) - u[start:start + len(block), None] - v[None, :]
        gain[block < 0] = 0  # blocked pairs are not in the problem
        np.maximum(gain, 0, out=gain)
        total += int(gain.sum())
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
def solve_assignment(problem: AssignmentProblem,
                     options: SolverOptions = SolverOptions()) -> AssignmentResult:
    """Compute the optimal assignment of ``problem`` in this process.

    Infeasible problems give an ``infeasible`` result with a diagnosis; this function
    only raises on bugs (the isolated variant turns those into ``error`` results).
    """
    clock = _Clock()
    shortfalls = diagnose(problem)
    clock.lap("diagnose")
    if shortfalls:
        return AssignmentResult("infeasible", diagnosis=tuple(s.message for s in shortfalls),
                                stats=clock.stats())
    index = _Index.of(problem)
    model = AffinityModel(problem)
    affinity = model.block(index.rows, index.cols)
    if index.blocked_rows.size:
        affinity[index.blocked_rows, index.blocked_cols] = -1  # never an arc
    clock.lap("affinity")
    kept_value, kept_cost = _kept_part(problem, model)
    if index.rows.size == 0:  # every slot kept: nothing to choose
        return _result(problem, model, index, affinity, np.zeros(0, int), np.zeros(0, int),
                       kept_value - kept_cost, clock, "optimal")
    outcome = _optimise(problem, index, affinity, options, clock)
    if isinstance(outcome, AssignmentResult):
        return outcome
    rows, cols, bound = outcome
    bound = None if bound is None else kept_value - kept_cost + bound
    return _result(problem, model, index, affinity, rows, cols, bound, clock,
                   None)


def _optimise(problem, index, affinity, options, clock):
    """Column generation over sparse candidate networks; returns (rows, cols, lagrangian
    bound without the kept constant) or an infeasible result."""
    n_rows, n_cols = affinity.shape
    eligible = (affinity >= 0).sum(axis=1)
    width = np.full(n_rows, max(options.candidates, 2 * problem.evaluators_per_proposal))
    cand = np.zeros(affinity.shape, dtype=bool)
    _add_top(cand, affinity, np.arange(n_rows), width)
    clock.lap("candidates")
    # an expert never takes more than the proposals it may evaluate: cap its units there
    unit_cap = np.minimum(index.free, (affinity >= 0).sum(axis=0))
    rounds = 0
    while True:
        flow = _solve_flow(index, affinity, cand, problem.load_penalty, unit_cap)
        clock.lap("solve")
        if flow.shipped < int(index.need.sum()):
            stuck = _blocked_rows(flow, index.need, n_cols)
            open_rows = stuck[cand[stuck].sum(axis=1) < eligible[stuck]]
            if open_rows.size == 0:
                return _infeasible(problem, index, stuck, flow, clock)
            width[open_rows] *= 2  # the cut may be an artefact of missing arcs: widen
            _add_top(cand, affinity, open_rows, width)
            clock.lap("candidates")
            continue
        rounds += 1
        u, v = _potentials(flow, affinity, n_rows, n_cols)
        clock.lap("duals")
        pair_part, add_rows, add_cols = _price(affinity, u, v, cand, width.min())
        units_part = _units_part(flow, v)
        bound = int(index.need @ u) + pair_part + units_part
        clock.lap("pricing")
        chosen = flow.pair_flow > 0
        out_of_time = options.time_limit is not None and clock.total() > options.time_limit
        if add_rows.size == 0 or rounds >= options.max_rounds or out_of_time:
            clock.note(rounds=rounds, arcs=int(len(flow.pair_rows)),
                       flow_cost=-flow.cost)
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


def _result(problem, model, index, affinity, rows, cols, bound, clock, status):
    """Assemble the result: every pair, the objective from scratch, the gap."""
    new_pairs = [(problem.experts[index.cols[c]].id, problem.proposals[index.rows[r]].id)
                 for r, c in zip(rows.tolist(), cols.tolist())]
    p_pos = {p.id: i for i, p in enumerate(problem.proposals)}
    e_pos = {e.id: j for j, e in enumerate(problem.experts)}
    pairs = sorted(set(new_pairs) | problem.fixed)
    values = model.pairs(np.array([p_pos[p] for _, p in pairs], dtype=np.int64),
                         np.array([e_pos[e] for e, _ in pairs], dtype=np.int64))
    total = int(values.sum())
    loads = Counter(e for e, _ in pairs)
    cost = sum(load_cost(n, problem.load_penalty) for n in loads.values())
    objective = total - cost
    if bound is not None and bound < objective:
        raise RuntimeError(f"bound {bound} below objective {objective}: certification bug")
    gap = 0.0 if bound is None or bound == objective else \
        (bound - objective) / max(abs(bound), 1)
    clock.lap("result")
    return AssignmentResult(
        status=status or ("optimal" if gap == 0 else "feasible"),
        pairs=tuple(pairs), new_pairs=tuple(sorted(new_pairs)), total_affinity=total,
        load_cost=cost, objective=objective, bound=objective if bound is None else bound,
        gap=gap, stats=clock.stats())


class _Clock:
    """Wall-clock laps for the result's ``stats`` (seconds per phase, summed)."""

    def __init__(self):
        self._start = self._last = time.perf_counter()
        self._laps: dict[str, float] = {}

    def lap(self, name: str):
        now = time.perf_counter()
        self._laps[f"{name}_s"] = self._laps.get(f"{name}_s", 0.0) + now - self._last
        self._last = now

    def note(self, **values):
        self._laps.update(values)

    def total(self) -> float:
        return time.perf_counter() - self._start

    def stats(self) -> dict:
        return {**self._laps, "total_s": self.total(),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ------------------------------------------------------------------------ isolation
def solve_assignment_isolated(problem: AssignmentProblem,
                              options: SolverOptions = SolverOptions(), *,
                              timeout: float = 600.0,
                              command: list[str] | None = None) -> AssignmentResult:
    """Solve in a child process; any failure of the child becomes an ``error`` result.

    ``command`` replaces the worker command line (tests use it to simulate crashes).
    """
    payload = json.dumps({"protocol": PROTOCOL, "problem": encode_problem(problem),
                          "options": asdict(options)}).encode()
    argv = command or [sys.executable, "-m", WORKER_MODULE]
    try:
        done = subprocess.run(argv, input=payload, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _error(f"solver gave no answer within {timeout:g} s and was stopped")
    except OSError as exc:
        return _error(f"solver could not be started: {exc}")
    if done.returncode != 0:
        return _error(f"solver process {_exit_reason(done.returncode)}"
                      f"{_tail(done.stderr)}")
    try:
        reply = json.loads(done.stdout)
        if reply.get("protocol") != PROTOCOL:
            raise ValueError(f"protocol {reply.get('protocol')!r}")
        return decode_result(reply["result"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _error(f"solver returned an unreadable answer ({exc}){_tail(done.stderr)}")


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _tail(stderr: bytes, limit: int = 400) -> str:
    text = stderr.decode(errors="replace").strip()
    return f": {text[-limit:]}" if text else ""


def _error(message: str) -> AssignmentResult:
    return AssignmentResult("error", error=message)


# ------------------------------------------------------------------------ wire form
def encode_problem(problem: AssignmentProblem) -> dict:
    """JSON-ready form of a problem (the worker's input)."""
    return {
        "proposals": [asdict(p) for p in problem.proposals],
        "experts": [asdict(e) for e in problem.experts],
        "evaluators_per_proposal": problem.evaluators_per_proposal,
        "conflicts": sorted(problem.conflicts),
        "excluded": sorted(problem.excluded),
        "fixed": sorted(problem.fixed),
        "load_penalty": problem.load_penalty,
        "weights": asdict(problem.weights),
    }


def decode_problem(data: dict) -> AssignmentProblem:
    """Inverse of :func:`encode_problem`."""
    def pairs(key):
        return frozenset((e, p) for e, p in data.get(key, ()))

    return AssignmentProblem(
        proposals=tuple(ProposalToAssign(**{**p, "integration_areas": tuple(p["integration_areas"]),
                                            "consortium": tuple(p["consortium"])})
                        for p in data["proposals"]),
        experts=tuple(Expert(**{**e, "expertise_areas": tuple(e["expertise_areas"]),
                                "keywords": tuple(e["keywords"])})
                      for e in data["experts"]),
        evaluators_per_proposal=data["evaluators_per_proposal"],
        conflicts=pairs("conflicts"), excluded=pairs("excluded"), fixed=pairs("fixed"),
        load_penalty=data["load_penalty"], weights=AffinityWeights(**data["weights"]))


def encode_result(result: AssignmentResult) -> dict:
    """JSON-ready form of a result (the worker's output)."""
    return {**asdict(result), "pairs": [list(p) for p in result.pairs],
            "new_pairs": [list(p) for p in result.new_pairs], "stats": dict(result.stats)}


def decode_result(data: dict) -> AssignmentResult:
    """Inverse of :func:`encode_result`; raises on a malformed answer."""
    if data["status"] not in ("optimal", "feasible", "infeasible", "error"):
        raise ValueError(f"unknown status {data['status']!r}")
    return AssignmentResult(
        status=data["status"],
        pairs=tuple((str(e), str(p)) for e, p in data["pairs"]),
        new_pairs=tuple((str(e), str(p)) for e, p in data["new_pairs"]),
        total_affinity=int(data["total_affinity"]), load_cost=int(data["load_cost"]),
        objective=int(data["objective"]),
        bound=None if data["bound"] is None else int(data["bound"]),
        gap=None if data["gap"] is None else float(data["gap"]),
        diagnosis=tuple(str(m) for m in data["diagnosis"]), error=str(data["error"]),
        stats=dict(data["stats"]))
