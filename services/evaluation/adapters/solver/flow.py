"""The min-cost flow network over the stored pairs (OR-Tools), its solution, the proposals a
min cut blocks, and the shortest-path potentials that price the pairs outside it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from services.evaluation.adapters.solver import limits
from services.evaluation.adapters.solver.index import Index
from services.evaluation.adapters.solver.pairs import Store
from services.evaluation.adapters.solver.resources import return_freed_memory, set_aside


@dataclass
class Flow:
    """One solved sparse network."""

    pair_rows: np.ndarray
    pair_cols: np.ndarray
    pair_vals: np.ndarray
    pair_flow: np.ndarray
    unit_cols: np.ndarray
    unit_caps: np.ndarray
    unit_cost: np.ndarray
    unit_flow: np.ndarray
    shipped: int
    cost: int


def _unit_arcs(index: Index, penalty: int,
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


def solve_flow(index: Index, store: Store, penalty: int, unit_cap: np.ndarray) -> Flow:
    """Max flow at min cost on the candidate network (OR-Tools)."""
    n_rows, n_cols = len(index.rows), len(index.cols)
    sink = n_rows + n_cols
    u_cols, u_caps, u_cost = _unit_arcs(index, penalty, unit_cap)
    # the arc arrays filled in place, in the types OR-Tools takes, and dropped once it
    # has copied them: concatenations and casts were 0.15 GB more at 4.7 million arcs,
    # on top of OR-Tools' own 0.1 kB or so per arc while it solves
    arcs = np.flatnonzero(store.in_flow)  # the store holds ~4x more pairs
    codes = store.codes[arcs]
    n = len(codes)
    tails, heads = np.empty(n + len(u_cols), np.int32), np.empty(n + len(u_cols), np.int32)
    caps, costs = np.ones(n + len(u_cols), np.int64), np.empty(n + len(u_cols), np.int64)
    np.floor_divide(codes, store.n_cols, out=tails[:n], casting="unsafe")  # < n_rows
    np.remainder(codes, store.n_cols, out=heads[:n], casting="unsafe")  # < n_cols
    heads[:n] += n_rows
    tails[n:], heads[n:] = n_rows + u_cols, sink
    caps[n:] = u_caps
    np.negative(store.vals[arcs], out=costs[:n])
    costs[n:] = u_cost
    del arcs, codes
    # what OR-Tools does not read waits on disk while it holds the network: the stored
    # pairs (about four for each arc) and the blocked pairs, 0.2 GB at 100,000 x 30,000,
    # where the solver child's peak went from 1,125-1,163 to 1,005 MB
    with set_aside((store, "codes"), (store, "vals"), (store, "in_flow"),
                   (index.blocked, "experts")):
        # the heap's free pages go back before OR-Tools takes its 0.1 kB an arc: the last
        # round's pricing and this network's arrays leave about 0.2 GB of freed blocks
        # below the mmap threshold that the process would otherwise keep through the solve
        # (100,000 x 30,000: 844 -> 645 MB resident when the solve began)
        return_freed_memory()
        smcf = min_cost_flow.SimpleMinCostFlow()
        handles = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        # a fresh network numbers its arcs 0, 1, ... in the order they were added
        if len(handles) and (handles[0] != 0 or handles[-1] != len(handles) - 1):
            raise RuntimeError("OR-Tools numbered the arcs of a new network out of order")
        del tails, heads, caps, costs, handles
        demand = int(index.need.sum())
        smcf.set_nodes_supplies(np.r_[np.arange(n_rows), sink].astype(np.int32),
                                np.r_[index.need, -demand].astype(np.int64))
        status = smcf.solve_max_flow_with_min_cost()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"OR-Tools min-cost flow ended with status {status}")
        flows = np.empty(n + len(u_cols), dtype=np.int64)
        step = limits.ARCS_READ_AT_ONCE
        for start in range(0, len(flows), step):
            numbers = np.arange(start, min(start + step, len(flows)), dtype=np.int32)
            flows[start:start + len(numbers)] = smcf.flows(numbers)
        shipped, cost = int(smcf.maximum_flow()), int(smcf.optimal_cost())
        del smcf  # its network and work arrays (about 0.1 kB an arc) go before what follows
    # the arcs' ends and values are read from the store again (it has not changed)
    # rather than kept through the solve, in the smallest types that hold them: beside
    # OR-Tools' arrays they and the arcs' numbers were 68 MB at 5 million arcs, at the
    # solver child's peak
    arcs = np.flatnonzero(store.in_flow)
    codes = store.codes[arcs]
    rows, cols = (codes // store.n_cols).astype(np.int32), (codes % store.n_cols).astype(np.int32)
    vals = store.vals[arcs]
    del arcs, codes
    return Flow(rows, cols, vals, flows[:n], u_cols, u_caps, u_cost, flows[n:], shipped, cost)


def blocked_rows(flow: Flow, need: np.ndarray, n_cols: int) -> np.ndarray:
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


def potentials(flow: Flow, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers (u per row, v per column) from shortest-path distances on the
    residual network of an optimal flow (Bellman-Ford from a virtual root, vectorised).

    The residual arcs' ends are 32-bit, put in head order one array at a time, and every
    pass adds into one buffer: with 64-bit ends, all three arrays sorted at once and two
    temporaries a pass, the child's resident size rose 0.27 GB above the solved flow
    here at 100,000 x 30,000 (5 million arcs), 0.19 GB so (the solver child's probe,
    bench/assignment.py's call)."""
    sink = n_rows + n_cols
    used = flow.pair_flow > 0
    full = flow.unit_flow >= flow.unit_caps
    loaded = flow.unit_flow > 0
    unit_cols = flow.unit_cols.astype(np.int32)
    heads = np.concatenate([np.where(used, flow.pair_rows, n_rows + flow.pair_cols),
                            np.full(int((~full).sum()), sink, dtype=np.int32),
                            n_rows + unit_cols[loaded]])
    order = np.argsort(heads, kind="stable")
    heads = heads[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]]) if len(heads) else heads
    targets = heads[starts]
    del heads
    tails = np.concatenate([np.where(used, n_rows + flow.pair_cols, flow.pair_rows),
                            n_rows + unit_cols[~full],
                            np.full(int(loaded.sum()), sink, dtype=np.int32)])[order]
    a = flow.pair_vals
    costs = np.concatenate([np.where(used, a, -a), flow.unit_cost[~full],
                            -flow.unit_cost[loaded]], dtype=np.int64)[order]
    del order
    dist = np.zeros(sink + 1, dtype=np.int64)  # 0: a 0-cost arc from the virtual root
    reach = np.empty(len(tails), dtype=np.int64)  # dist[tail] + cost of every arc
    for _ in range(sink + 2):
        if not len(tails):
            break
        np.take(dist, tails, out=reach)
        reach += costs
        best = np.minimum.reduceat(reach, starts)
        improved = best < dist[targets]
        if not improved.any():
            break
        dist[targets[improved]] = best[improved]
    else:
        raise RuntimeError("negative cycle in the residual network: flow not optimal")
    return dist[:n_rows] - dist[sink], dist[sink] - dist[n_rows:sink]


def lift(u: np.ndarray, v: np.ndarray, flow: Flow) -> tuple[np.ndarray, np.ndarray]:
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
    rows, cols, a = flow.pair_rows[used], flow.pair_cols[used], flow.pair_vals[used]
    room = flow.unit_flow < flow.unit_caps
    ceiling = np.full(len(v), top, dtype=np.int64)
    np.minimum.at(ceiling, flow.unit_cols[room], flow.unit_cost[room])
    np.minimum.at(ceiling, cols, a - u[rows])
    v = np.where(ceiling < top, ceiling, v)
    ceiling = np.full(len(u), top, dtype=np.int64)
    np.minimum.at(ceiling, rows, a - v[cols])
    return np.where(ceiling < top, ceiling, u), v
