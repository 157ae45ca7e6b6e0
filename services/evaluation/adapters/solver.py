"""Optimal expert assignment with OR-Tools min-cost flow, certified against the full problem.

:func:`solve_assignment` runs in this process (benchmark, tests, the worker). The service
runs it in a child process (:mod:`.solver_warm`, :mod:`.solver_worker`), because OR-Tools
has been seen to abort the whole process on some inputs.

The objective is the one documented in :mod:`services.evaluation.domain.assignment`.
The flow network: each proposal supplies the evaluators it still needs; arc proposal ->
expert (capacity 1, cost -affinity) for candidate pairs; expert -> sink one arc per free
load unit, the j-th costing ``load_penalty * (kept + j - 1)`` (convex, so the cheapest
units fill first and min cost = max of the objective).

**Scale.** A call of 50,000 proposals and 20,000 experts has 10^9 pairs; their affinity
matrix is never held whole. One streamed pass computes it a block of proposals at a time
and *stores* the best ``4 * candidates`` pairs of each proposal, plus ``ceiling[p]``, the
largest affinity of p's pairs it did not store (an upper bound on all of them). The flow
network uses the best ``candidates`` stored pairs of each proposal, and the pairs of one
assignment dealt blind to affinity (:func:`_dealt`), so that it can place every
evaluation the loads allow from the start even where every proposal wants the same
experts.

**Optimality for the full problem is proven, not assumed.** For any multipliers ``u``
(one per proposal) and ``v`` (one per expert)::

    UB(u, v) = const + sum_p need_p * u_p + sum_(p,e) eligible max(0, a_pe - u_p - v_e)
                     + sum_e sum_(free units j) max(0, v_e - cost_ej)

bounds the full problem from above (Lagrangian relaxation of the "k per proposal" and
"flow through the expert" constraints; the sum runs over every eligible pair, not only
the candidates). The multipliers come from the sparse optimum: shortest-path potentials
of its residual network (vectorised Bellman-Ford), raised as far as complementary
slackness allows. The sum is exact over the stored pairs; for the pairs a proposal did
not store, ``a_pe <= min(ceiling[p], col_max[e])`` (col_max: the expert's best affinity,
kept from the same pass) bounds their part by 0 for almost every proposal (one binary
search over the experts sorted by ``v``); the few proposals where it does not are
recomputed exactly. UB then equals the sparse optimum plus
the positive ``a_pe - u_p - v_e`` of pairs outside the network; the best of those for
each proposal and for each expert are added and the network solved again (column
generation) until none is left (``UB`` equals the
objective: proven optimal, ``gap`` 0) or the round/time budget ends (``gap`` = relative
distance to ``UB``, an honest figure either way). When the sparse network is infeasible
its min cut names the blocked proposals; their candidate lists are doubled (their best
pairs stored first, never whole rows unless the list is) until either a flow exists or
the cut only uses complete lists, which proves the full problem infeasible and names
the group in words.

**Ties.** Affinities are small integers and pools repeat profiles, so many experts can
share a proposal's best value. Candidates and pricing's pairs are chosen by (value, then
a tie order of the pair): by expert id, every proposal of a profile took the same
lowest-numbered experts and left the others without arcs. The tie order is a fixed hash
of the pair's two positions, a different order of the experts for each proposal, so
tied proposals spread over the tied experts. (The 100,000-proposal synthetic call, whose
first assignment failed with widening to whole rows, 8.7 GB and the 600 s timeout, now
solves proven optimal in process: 463 s, 5 rounds, 1.93 GB; see the service README.)

**Determinism.** Proposals and experts are sorted by id first, candidates are chosen by
(affinity, then the pair's tie order), and every array the flow sees is built in that
order, so the same problem gives the same pairs whatever order its parts came in.
"""
from __future__ import annotations

import ctypes
import functools
import importlib
import os
import resource
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from services.evaluation.domain.affinity import (
    AreaIndex, affinity_scores, expert_text, proposal_text)
from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, diagnose, group_shortfall, load_cost, needs,
    remaining_loads)
from services.evaluation.domain.blocked import BlockedPairs, runs_of
from services.evaluation.domain.pairs import compact_codes

# affinity rows computed at once: bounds temporary memory. 256 rather than 1,024: at a
# topic of 38,000 x 30,000 the streamed pass peaked 0.8 GB lower and took 7.7 s
# against 11.1 s (bench/assignment.py; the blocks' temporaries fit the caches better).
# 128 rather than 256: two threads' blocks of 30,000 experts and their temporaries were
# the peak of the affinity pass and of pricing; at 20,000 x 30,000 (in process) the
# solve peaked at 516 and 563 MB against 670 and 672, on the same CPU (19.7 and 20.0 s
# against 19.9 and 21.1)
_ROWS_PER_CHUNK = 128
_ARCS_READ_AT_ONCE = 1 << 20  # arcs whose flow is asked of OR-Tools in one call
_PAIRS_PER_SLICE = 1 << 20  # stored pairs priced at once
_STORED_PER_CANDIDATE = 4  # pairs stored per proposal, per candidate arc
_COLUMN_CANDIDATES_MAX = 32  # improving pairs per expert a pricing round adds, at most


@dataclass(frozen=True)
class SolverOptions:
    """``candidates``: arcs per proposal in the first sparse graph (raised to 2k at
    least); ``max_rounds``: column-generation rounds before settling for a gap;
    ``time_limit``: seconds after which no new round starts (None: no limit);
    ``threads``: affinity blocks computed at once."""

    # 48 rather than 32: fewer rounds and far fewer proposals to price again; the
    # benchmark's 50,000-proposal call took 54.7 s against 63.3 s, 10,124 the same
    candidates: int = 48
    max_rounds: int = 10
    time_limit: float | None = None
    threads: int = min(2, os.cpu_count() or 1)


# ------------------------------------------------------------------------ affinity
class AffinityModel:
    """Affinities of a problem's pairs: TF-IDF (scikit-learn) over proposal abstracts and
    expert keywords, plus integration-area overlap, combined as the domain defines.
    Imported scores (``problem.imported``) take the place of the TF-IDF similarity of
    their pairs; a dense import covering every pair replaces the model altogether.

    The IDF is fitted on every proposal and expert of the problem, so a repair (same
    proposals and pool) sees exactly the affinities the first assignment saw.
    """

    def __init__(self, problem: AssignmentProblem):
        self.weights = problem.weights
        p_ids = [p.id for p in problem.proposals]
        e_ids = [e.id for e in problem.experts]
        imported = problem.imported
        self._dense = imported.dense_for(p_ids, e_ids) if imported is not None else None
        self._override = None
        if self._dense is None:
            self._p, self._e = _tfidf(problem)
            if imported is not None and len(imported):
                rows, cols, scores = imported.positions(p_ids, e_ids)
                # data = 1 + index into scores: an imported 0.0 must still count
                self._override = csr_matrix(
                    (np.arange(1, len(rows) + 1, dtype=np.float64), (rows, cols)),
                    shape=(len(p_ids), len(e_ids)))
                self._scores = scores
        self._areas = AreaIndex([p.integration_areas for p in problem.proposals],
                                [e.expertise_areas for e in problem.experts])
        self._prepared: tuple[int, np.ndarray, object, np.ndarray] | None = None

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int16 affinities of proposals ``rows`` x experts ``cols`` (problem order)."""
        out = np.empty((len(rows), len(cols)), dtype=np.int16)
        for start in range(0, len(rows), _ROWS_PER_CHUNK):
            chunk = rows[start:start + _ROWS_PER_CHUNK]
            out[start:start + len(chunk)] = self._chunk(chunk, cols)
        return out

    def _chunk(self, chunk: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int16 affinities of proposals ``chunk`` x experts ``cols``.

        Most pairs share no word: their affinity is the area signal's, a gather from
        a table. Only the pairs the sparse TF-IDF product (or an import) gives a text
        similarity are computed one by one, with the same float64 operations."""
        if self._dense is not None:
            text = self._dense[np.ix_(chunk, cols)].astype(np.float64)
            return affinity_scores(self._areas.overlap(chunk, cols), text, self.weights)
        out = np.ascontiguousarray(self._areas.scores(chunk, cols, self.weights))
        r, c, text = self._text(chunk, cols)
        area = self._areas.pair_overlap(chunk, cols, r, c)
        # flat positions: a 1-D scatter is several times cheaper than out[r, c] = ...
        flat = r.astype(np.int64)
        flat *= out.shape[1]
        flat += c
        out.ravel()[flat] = affinity_scores(area, text, self.weights)
        return out

    def _text(self, chunk: np.ndarray, cols: np.ndarray):
        """(local rows, local cols, similarity) of the pairs of ``chunk`` x ``cols`` with
        a text similarity: TF-IDF cosine, or the imported score where there is one."""
        _, col_of, experts_t, terms = self._for_columns(cols)
        product = self._p[chunk][:, terms] @ experts_t  # CSR: rows come from its index
        r = np.repeat(np.arange(len(chunk), dtype=np.int32), np.diff(product.indptr))
        c, text = product.indices, product.data
        if self._override is None:
            return r, c, text
        part = self._override[chunk].tocoo()
        at = col_of[part.col]
        inside = at >= 0
        o_r, o_c = part.row[inside], at[inside]
        scores = self._scores[part.data[inside].astype(np.int64) - 1]
        width = max(len(cols), 1)
        replaced = np.isin(r.astype(np.int64) * width + c, o_r.astype(np.int64) * width + o_c)
        return (np.concatenate([r[~replaced], o_r]), np.concatenate([c[~replaced], o_c]),
                np.concatenate([text[~replaced], scores]))

    def prepare(self, cols: np.ndarray) -> None:
        """Build and keep the experts' side for ``cols`` now, before threads share the
        model: the solver asks for the same columns again and again."""
        if self._dense is None:
            self._prepared = self._for_columns(cols)

    def _for_columns(self, cols: np.ndarray):
        """The experts' side of the product for a column set: the kept one if it is for
        these columns, else a fresh one (never stored: threads may ask for others)."""
        key = hash(cols.tobytes())
        if self._prepared is not None and self._prepared[0] == key:
            return self._prepared
        col_of = np.full(self._e.shape[0], -1, dtype=np.int64)
        col_of[cols] = np.arange(len(cols))
        experts = self._e[cols]
        # only terms some expert uses can score: the proposals are cut down to those
        terms = np.unique(experts.indices)
        return key, col_of, experts[:, terms].T.tocsr(), terms

    def pairs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64 affinities of the pairs ``(rows[i], cols[i])``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        if self._dense is not None:
            text = self._dense[rows, cols].astype(np.float64)
        else:
            text = np.asarray(self._p[rows].multiply(self._e[cols]).sum(axis=1)).ravel()
            if self._override is not None:
                index = np.asarray(self._override[rows, cols]).ravel().astype(np.int64) - 1
                text = np.where(index >= 0, self._scores[np.maximum(index, 0)], text)
        area = self._areas.pair_overlap(rows, cols)
        return affinity_scores(area, text.astype(np.float64), self.weights).astype(np.int64)


def preload() -> None:
    """Import now what a solve would import on its way (scikit-learn's text features: 1.0
    to 1.4 s here, most of it SciPy's statistics, which scikit-learn pulls in). A solver
    child started ahead of its solve (:mod:`.solver_warm`) calls it before it is asked;
    the service process never does (it only builds problems)."""
    importlib.import_module("sklearn.feature_extraction.text")


def _tfidf(problem: AssignmentProblem):
    from sklearn.feature_extraction.text import TfidfVectorizer  # see preload()

    p_texts = [proposal_text(p.abstract) for p in problem.proposals]
    e_texts = [expert_text(e.keywords) for e in problem.experts]
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, dtype=np.float64)
    try:
        both = vectorizer.fit_transform(p_texts + e_texts).tocsr()  # tokenise once
    except ValueError:  # empty vocabulary: no text at all, text similarity is 0
        return csr_matrix((len(p_texts), 1)), csr_matrix((len(e_texts), 1))
    experts = both[len(p_texts):]
    # a term no expert uses adds nothing to any similarity (its products are 0): the
    # proposals keep only the others: a third less at 100,000 synthetic proposals (99 to
    # about 70 MB through the whole solve); the weights stay those fitted on every term
    used = np.unique(experts.indices)
    return both[:len(p_texts)][:, used], experts[:, used]


# ------------------------------------------------------------------------ indexing
def _tie_bits(positions: np.ndarray, side: int) -> np.ndarray:
    """16 bits per problem position (splitmix64's mixer: nearby positions get unrelated
    bits), the same for the same problem on any machine. A pair's tie order is its
    row's bits xor its column's: xor with a row's bits permutes the columns' bits, so
    each proposal orders tied experts differently."""
    x = positions.astype(np.uint64) * np.uint64(2) + np.uint64(side)
    x += np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(48)).astype(np.int32)


@dataclass
class _Index:
    """Positions: open proposals (still needing evaluators) are rows, open experts
    (free load) are columns, both in id order (the problem is sorted first). The
    blocked pairs stay the problem's, in its positions (10^7 of them are not copied);
    ``row_of``/``col_of`` map a problem position to a row/column (-1: not open)."""

    rows: np.ndarray  # problem index of each open proposal
    cols: np.ndarray  # problem index of each open expert
    need: np.ndarray  # per row
    free: np.ndarray  # per column: new assignments it may take
    kept: np.ndarray  # per column: kept assignments (they set the first unit's cost)
    blocked: BlockedPairs  # forbidden or already kept, problem positions
    row_of: np.ndarray
    col_of: np.ndarray

    @classmethod
    def of(cls, problem: AssignmentProblem) -> "_Index":
        need_of, free_of = needs(problem), remaining_loads(problem)
        need = np.array([need_of[p.id] for p in problem.proposals], dtype=np.int64)
        free = np.array([free_of[e.id] for e in problem.experts], dtype=np.int64)
        kept_of = Counter(e for e, _ in problem.fixed)
        kept = np.array([kept_of[e.id] for e in problem.experts], dtype=np.int64)
        rows, cols = np.flatnonzero(need > 0), np.flatnonzero(free > 0)
        row_of = np.full(len(need), -1, dtype=np.int64)
        row_of[rows] = np.arange(len(rows))
        col_of = np.full(len(free), -1, dtype=np.int64)
        col_of[cols] = np.arange(len(cols))
        return cls(rows, cols, need[rows], free[cols], kept[cols], problem.blocked,
                   row_of, col_of)

    # per row and per column, 16 bits whose xor is a pair's tie order (:func:`_tie_bits`)
    @functools.cached_property
    def row_tie(self) -> np.ndarray:
        return _tie_bits(self.rows, 0)

    @functools.cached_property
    def col_tie(self) -> np.ndarray:
        return _tie_bits(self.cols, 1)

    def keys(self, chunk: np.ndarray, block: np.ndarray) -> np.ndarray:
        """The selection keys of rows ``chunk`` x every column, from their int16 values
        ``block``: value << 16 | tie order (int32, value order first), -1 where
        blocked."""
        keys = block.astype(np.int32)
        keys <<= 16
        keys |= self.block_ties(chunk)
        keys[block < 0] = -1
        return keys

    def block_ties(self, chunk: np.ndarray, cols=slice(None)) -> np.ndarray:
        """The tie order of rows ``chunk`` x columns ``cols`` (default all)."""
        return self.row_tie[chunk][:, None] ^ self.col_tie[cols][None, :]

    def pair_ties(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The tie order of the pairs (rows[i], cols[i])."""
        return self.row_tie[rows] ^ self.col_tie[cols]

    def pair_keys(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """The selection keys of the pairs (rows[i], cols[i]) worth vals[i] (>= 0)."""
        return (vals.astype(np.int64) << 16) | self.pair_ties(rows, cols)

    def blocked_in(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The blocked pairs of rows ``chunk`` (sorted) with an open column: (index
        into ``chunk``, column) of each."""
        local, experts = self.blocked.of_proposals(self.rows[chunk])
        cols = self.col_of[experts]
        open_ = cols >= 0
        return local[open_], cols[open_]

    def eligible_per_row(self) -> np.ndarray:
        blocked = self.blocked.per_proposal(experts=self.col_of >= 0)
        return len(self.cols) - blocked[self.rows]

    def eligible_per_col(self) -> np.ndarray:
        blocked = self.blocked.per_expert(self.row_of >= 0)
        return len(self.rows) - blocked[self.cols]


# ------------------------------------------------------------------------ stored pairs
class _Store:
    """The pairs kept from the streamed affinity pass, sorted by (row, column): their
    values (int16, the blocks' type), which of them are arcs of the flow network, and
    per row the ceiling of the pairs not stored (-1: every eligible pair of the row is
    stored)."""

    def __init__(self, n_cols: int, codes: np.ndarray, vals: np.ndarray, in_flow: np.ndarray,
                 ceiling: np.ndarray, col_max: np.ndarray):
        self.n_cols = max(n_cols, 1)
        # 32-bit where every code fits (19 million stored pairs at 100,000 x 30,000:
        # 76 MB less, and they live through every solve)
        codes = compact_codes(codes, len(ceiling) * self.n_cols)
        self.codes, self.vals, self.in_flow, self.ceiling = codes, vals, in_flow, ceiling
        self.col_max = col_max  # per column: its largest eligible affinity (-1: none)

    @property
    def rows(self) -> np.ndarray:
        return self.codes // self.n_cols

    @property
    def cols(self) -> np.ndarray:
        return self.codes % self.n_cols

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, in_flow: bool) -> None:
        """Store pairs (known ones keep their place; ``in_flow`` makes them all arcs)."""
        # in the stored codes' own type: searched against them, and inserted among them
        new = (rows.astype(np.int64) * self.n_cols + cols).astype(self.codes.dtype)
        order = np.argsort(new, kind="stable")
        new, vals = new[order], vals[order]
        first = np.r_[True, new[1:] != new[:-1]] if new.size else np.zeros(0, dtype=bool)
        new, vals = new[first], vals[first]
        at = np.searchsorted(self.codes, new)
        found = np.zeros(len(new), dtype=bool)
        inside = at < len(self.codes)
        found[inside] = self.codes[at[inside]] == new[inside]
        if in_flow:
            self.in_flow[at[found]] = True
        fresh = ~found
        self.codes = np.insert(self.codes, at[fresh], new[fresh])
        self.vals = np.insert(self.vals, at[fresh], vals[fresh])
        self.in_flow = np.insert(self.in_flow, at[fresh], in_flow)

    def rows_mask(self, rows: np.ndarray) -> np.ndarray:
        """Which stored pairs belong to one of ``rows``."""
        wanted = np.zeros(int(self.ceiling.size), dtype=bool)
        wanted[rows] = True
        return wanted[self.rows]


def _block_rows(model: AffinityModel, index: _Index, chunk: np.ndarray) -> np.ndarray:
    """int16 affinities of index rows ``chunk`` (sorted) x every column; blocked pairs
    -1."""
    block = model._chunk(index.rows[chunk], index.cols)
    local, cols = index.blocked_in(chunk)
    block[local, cols] = -1
    return block


def _row_chunks(rows: np.ndarray):
    for start in range(0, len(rows), _ROWS_PER_CHUNK):
        yield rows[start:start + _ROWS_PER_CHUNK]


def _in_threads(work: Callable, items, threads: int):
    """``map(work, items)`` in order, ``threads`` at a time (numpy and scipy's sparse
    products release the GIL, so a 2-core machine computes two blocks at once); at most
    ``threads`` results wait, so at most that many blocks are in memory."""
    if threads <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(threads) as pool:
        waiting: deque = deque()
        for item in items:
            waiting.append(pool.submit(work, item))
            if len(waiting) > threads:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


def _select(keys: np.ndarray, store_width: int,
            width: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """About the best ``store_width`` eligible (>= 0) entries of each row of ``keys``
    (:meth:`_Index.keys`): (local rows, cols, values) sorted by (row, column), which of
    them are among the row's best ``width``, and per row a ceiling of the eligible
    values left out (-1 if none).

    The cut is read from a fixed sample of the columns (a partition of a few thousand
    keys per row, not of all of them); every entry above it is kept, and the cut's value
    is the ceiling. Rows where it keeps fewer than ``width + 1`` are chosen from whole."""
    n, m = keys.shape
    cut = np.full(n, -1, dtype=keys.dtype)
    if m > 4 * store_width:
        cut = _sampled_cut(keys, max(1, store_width // 24), store_width)
    r, c = _nonzero(keys > cut[:, None])
    ceiling = np.where(cut >= 0, cut >> 16, -1).astype(np.int64)
    few = np.bincount(r, minlength=n) <= max(width, 1)
    if few.any():
        keep = ~few[r]
        f_rows = np.flatnonzero(few)
        f_r, f_c, f_ceiling = _best_whole(keys[f_rows], store_width)
        r = np.concatenate([r[keep], f_rows[f_r]])
        c = np.concatenate([c[keep], f_c])
        ceiling[f_rows] = f_ceiling
        order = np.lexsort((c, r))
        r, c = r[order], c[order]
    k = keys[r, c].astype(np.int64)
    return r, c, k >> 16, _best_of_rows(r, k, n, width), ceiling


def _sampled_cut(keys: np.ndarray, step: int, want: int) -> np.ndarray:
    """Per row, about its ``want``-th largest key, read from every ``step``-th column
    (a partition of a few thousand keys per row, not of all of them)."""
    sample = keys[:, ::step]
    size = sample.shape[1]
    rank = min(size, max(1, round(want * size / keys.shape[1])))
    return np.partition(sample, size - rank, axis=1)[:, size - rank]


def _places(groups: np.ndarray) -> np.ndarray:
    """Each entry's place (0, 1, ...) within its run of equal values of ``groups``
    (sorted): where only each group's first few are kept."""
    return np.arange(len(groups)) - np.searchsorted(groups, groups)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask, four times faster (measured on 20 M entries)."""
    return np.divmod(np.flatnonzero(mask), max(mask.shape[1], 1))


def _best_whole(keys: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best ``width`` eligible entries of each row of ``keys`` (local rows and
    columns, sorted by row), and the largest eligible value left out (-1 if none)."""
    n, m = keys.shape
    if width + 1 < m:  # only the best width + 1 matter: a partition, then their order
        order = np.argpartition(-keys, width, axis=1)[:, :width + 1]
        order = np.take_along_axis(
            order, np.argsort(-np.take_along_axis(keys, order, axis=1), axis=1), axis=1)
    else:
        order = np.argsort(-keys, axis=1)
    best = np.take_along_axis(keys, order, axis=1)
    ceiling = np.full(n, -1, dtype=np.int64)
    if order.shape[1] > width:
        ceiling = np.maximum(best[:, width].astype(np.int64) >> 16, -1)
        order, best = order[:, :width], best[:, :width]
    r, k = np.nonzero(best >= 0)
    return r, order[r, k], ceiling


def _best_of_rows(r: np.ndarray, k: np.ndarray, n: int, width: int) -> np.ndarray:
    """Which entries (sorted by row, keys ``k``) are among their row's ``width`` best."""
    if width <= 0 or len(r) == 0:
        return np.zeros(len(r), dtype=bool)
    first = np.searchsorted(r, np.arange(n))
    count = np.diff(np.r_[first, len(r)])
    padded = np.full((n, max(int(count.max()), width)), -1, dtype=np.int64)
    padded[r, np.arange(len(r)) - first[r]] = k
    limit = np.partition(padded, padded.shape[1] - width, axis=1)[:, padded.shape[1] - width]
    return k >= limit[r]


class _ColumnBest:
    """Each column's best ``width`` rows by key among the pairs it is shown, kept as they
    come (a block or a slice of pairs at a time), each with its value: the experts' side
    of the first network's arcs and of pricing's. Where every proposal likes the same
    experts best, the proposals' own lists leave the others without arcs: at a
    100,000-proposal synthetic call the first network's optimum was 83.6 million
    without the experts' lists (dealt assignment and ties spread) and 110.4 with them,
    and after two rounds 114.6 against 117.6 without and with pricing's (the optimum:
    118.6)."""

    def __init__(self, n_cols: int, width: int, dtype=np.int32):
        self.width = width
        self.keys = np.full((width, n_cols), -1, dtype=dtype)
        self.rows = np.zeros((width, n_cols), dtype=np.int32)
        self.vals = np.zeros((width, n_cols), dtype=np.int16)
        self.floor = np.full(n_cols, -1, dtype=dtype)  # each column's width-th best key
        self._waiting: list = []
        self._count = 0

    def candidates(self, keys: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """A mask of the entries of a block of ``keys`` (columns ``cols``, default all)
        that may enter the lists: above their column's floor and among the block's best
        ``width`` of their column (the first blocks otherwise send every entry)."""
        if self.width == 0:
            return np.zeros(keys.shape, dtype=bool)
        floor = self.floor if cols is None else self.floor[cols]
        mask = keys > floor[None, :]
        # once the floors have risen few pass them, and the partition is not worth it
        if keys.shape[0] > self.width and mask.sum() > self.width * keys.shape[1] // 4:
            at = keys.shape[0] - self.width
            mask &= keys >= np.partition(keys, at, axis=0)[at][None, :]
        return mask

    def merge(self, rows: np.ndarray, cols: np.ndarray, keys: np.ndarray,
              vals: np.ndarray) -> None:
        """Take in the pairs (rows[i], cols[i]) of keys[i], worth vals[i] (each pair
        shown once at most). They wait until as many have come as the lists hold, then
        are sorted into the lists at once: merged a block at a time, the touched
        columns' lists were sorted again for every block; a larger wait lets the floors
        stay low longer, and more pairs through."""
        if self.width == 0:
            return
        beat = keys > self.floor[cols]  # the floor only rises: most pairs stop here
        if beat.any():
            self._waiting.append((rows[beat], cols[beat], keys[beat], vals[beat]))
            self._count += int(beat.sum())
        if self._count >= max(self.keys.size, _PAIRS_PER_SLICE >> 4):
            self._flush()

    def _flush(self) -> None:
        if not self._waiting:
            return
        rows, cols, keys, vals = (np.concatenate(part) for part in zip(*self._waiting))
        self._waiting, self._count = [], 0
        beat = keys > self.floor[cols]
        rows, cols, keys, vals = rows[beat], cols[beat], keys[beat], vals[beat]
        touched = np.unique(cols)
        parts = [np.concatenate([held[:, touched].T.ravel(), new.astype(held.dtype)])
                 for held, new in ((self.keys, keys), (self.rows, rows), (self.vals, vals))]
        all_c = np.concatenate([np.repeat(touched, self.width), cols])
        if parts[0].dtype == np.int32:  # one sort of (column, key descending) in 64 bits
            order = np.argsort((all_c.astype(np.int64) << 32)
                               | (0x7FFFFFFF - parts[0].astype(np.int64)))  # -1: 2**31
        else:
            order = np.lexsort((-parts[0], all_c))
        keep = order[_places(all_c[order]) < self.width]
        for held, part in zip((self.keys, self.rows, self.vals), parts):
            held[:, touched] = part[keep].reshape(len(touched), self.width).T
        self.floor[touched] = self.keys[:, touched].min(axis=0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, values) of the kept pairs (those with a key: >= 0)."""
        self._flush()
        k, c = np.nonzero(self.keys >= 0)
        return self.rows[k, c].astype(np.int64), c, self.vals[k, c]


def _dealt(index: _Index, unit_cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An assignment blind to affinity that places every evaluation wherever the loads
    allow it, conflicts aside: the experts' load units dealt to the proposals in turn,
    in rounds (every expert's first unit, then every second one, ...), the experts of a
    round in a fixed scrambled order (their tie bits). Consecutive units of a round are
    different experts, so a proposal's slots go to different experts (but at the seam
    of two small rounds). (rows, cols), sorted by row.

    Its pairs are arcs of the first network, so that network has a flow that places
    everything: the proposals' own best lists alone did not where tastes are alike (a
    100,000-proposal synthetic call placed 76,460 of 159,664 evaluations on them, ties
    spread; with each expert's best proposals added too, 131,508; widening the stuck
    proposals' lists then took rounds of millions of arcs, and sending them to the
    experts with room was not enough either: they all liked the same few of those)."""
    order = np.argsort(index.col_tie, kind="stable")
    caps = unit_cap[order]
    first_unit = np.repeat(np.cumsum(caps) - caps, caps)
    units = np.arange(int(caps.sum()))
    deal = np.repeat(order, caps)[np.lexsort((np.repeat(np.arange(len(order)), caps),
                                              units - first_unit))]
    rows = np.repeat(np.arange(len(index.need)), index.need)
    if deal.size == 0:
        return rows[:0], rows[:0]
    return rows, deal[np.arange(len(rows)) % deal.size]


def _collect(model: AffinityModel, index: _Index, width: int, store_width: int,
             threads: int = 1, column_width: int = 0,
             also: tuple[np.ndarray, np.ndarray] | None = None) -> _Store:
    """The streamed pass: about every row's best ``store_width`` pairs stored, its
    best ``width`` of them arcs of the network, each column's best ``column_width`` rows
    stored and arcs too, and the eligible ones of the pairs ``also`` (rows, cols, sorted
    by row) arcs, whatever their value."""
    n_cols = len(index.cols)
    codes, vals, in_flow = [], [], []
    ceiling = np.full(len(index.rows), -1, dtype=np.int64)
    col_max = np.full(n_cols, -1, dtype=np.int64)
    columns = _ColumnBest(n_cols, column_width)
    also_rows, also_cols = also if also is not None else (np.zeros(0, np.int64),) * 2
    extra = []

    def select(chunk):  # chunk: consecutive rows
        block = _block_rows(model, index, chunk)
        keys = index.keys(chunk, block)
        at = slice(*np.searchsorted(also_rows, [chunk[0], chunk[-1] + 1]))
        a_r, a_c = also_rows[at], also_cols[at]
        a_v = block[a_r - chunk[0], a_c]
        b_r, b_c = _nonzero(columns.candidates(keys))  # a floor that may have risen since
        return (chunk, block.max(axis=0), _select(keys, store_width, width),
                (a_r[a_v >= 0], a_c[a_v >= 0], a_v[a_v >= 0]),
                (chunk[b_r], b_c, keys[b_r, b_c], block[b_r, b_c]))

    chunks = _row_chunks(np.arange(len(index.rows)))
    for chunk, best, (r, c, v, arcs, top), mine, rising in _in_threads(select, chunks, threads):
        np.maximum(col_max, best, out=col_max)
        ceiling[chunk] = top
        codes.append(chunk[r] * max(n_cols, 1) + c)
        vals.append(v.astype(np.int16))  # the blocks' own type: 7 million pairs at scale
        in_flow.append(arcs)
        extra.append(mine)
        columns.merge(*rising)
    store = _Store(n_cols, np.concatenate(codes), np.concatenate(vals),
                   np.concatenate(in_flow), ceiling, col_max)
    e_rows, e_cols, e_vals = (np.concatenate(part) for part in zip(*extra, columns.pairs()))
    store.add(e_rows, e_cols, e_vals.astype(np.int16), in_flow=True)
    return store


# ------------------------------------------------------------------------ flow graph
@dataclass
class _Flow:
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


def _solve_flow(index: _Index, store: _Store, penalty: int, unit_cap: np.ndarray) -> _Flow:
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
    for start in range(0, len(flows), _ARCS_READ_AT_ONCE):
        numbers = np.arange(start, min(start + _ARCS_READ_AT_ONCE, len(flows)), dtype=np.int32)
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
    return _Flow(rows, cols, vals, flows[:n], u_cols, u_caps, u_cost, flows[n:], shipped, cost)


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


def _potentials(flow: _Flow, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
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


def _lift(u: np.ndarray, v: np.ndarray, flow: _Flow) -> tuple[np.ndarray, np.ndarray]:
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


@dataclass
class _Pricing:
    pair_part: int  # sum over every eligible pair of max(0, a - u - v)
    add_rows: np.ndarray  # improving pairs outside the network, to add
    add_cols: np.ndarray
    add_vals: np.ndarray
    repriced: int  # rows recomputed because their ceiling could hide an improving pair


def _price(model: AffinityModel, index: _Index, store: _Store, u: np.ndarray,
           v: np.ndarray, per_row: int, threads: int = 1, per_col: int = 0) -> _Pricing:
    """Sum over all eligible pairs of max(0, a - u - v), and the best ``per_row``
    improving pairs outside the network of each row and the best ``per_col`` of each
    column.

    Stored pairs are priced exactly. A row's unstored pairs are worth at most its
    ceiling, so an unstored (p, e) can only have a - u - v > 0 if v_e < ceiling_p - u_p:
    rows where some expert is that cheap (and could reach, by its best affinity) are
    recomputed against exactly those experts, and priced exactly there; every other
    unstored pair adds 0."""
    total, found = 0, []
    columns = _ColumnBest(store.n_cols, per_col, dtype=np.int64)
    # the stored pairs a slice at a time: whole, each temporary was an int64 array of
    # every stored pair (7 million at a topic of 38,000 x 30,000)
    for start in range(0, len(store.codes), _PAIRS_PER_SLICE):
        part = slice(start, start + _PAIRS_PER_SLICE)
        rows, cols = np.divmod(store.codes[part], store.n_cols)
        vals = store.vals[part]
        gain = vals - u[rows]
        gain -= v[cols]
        positive = gain > 0
        total += int(gain[positive].sum())
        outside = positive & ~store.in_flow[part]
        o_rows, o_cols, o_vals, o_gain = rows[outside], cols[outside], vals[outside], gain[outside]
        found.append(_best_per_row(index, o_rows, o_cols, o_vals, o_gain, per_row))
        columns.merge(o_rows, o_cols, index.pair_keys(o_rows, o_cols, o_gain), o_vals)
    flagged = _may_hide_gain(store.ceiling, store.col_max, u, v)
    by_v = np.argsort(v, kind="stable")
    reach = np.searchsorted(v[by_v], store.ceiling[flagged] - u[flagged], side="left")
    flagged = flagged[np.argsort(reach, kind="stable")]  # rows needing few experts together
    reach = np.sort(reach)
    stored_in = store.rows_mask(flagged)
    s_codes = store.codes[stored_in]
    groups = [(flagged[start:start + _ROWS_PER_CHUNK], int(reach[start:start + _ROWS_PER_CHUNK].max()))
              for start in range(0, len(flagged), _ROWS_PER_CHUNK)]

    def block_of(group):
        chunk, width = group
        chunk = np.sort(chunk)
        sub = np.sort(by_v[:width])  # the experts cheap enough for some row of the chunk
        # every column, then those: the model keeps the experts' side of the product for
        # every column (prepare), where one for each group's own columns was built afresh
        return chunk, sub, _block_rows(model, index, chunk)[:, sub]

    for chunk, sub, block in _in_threads(block_of, groups, threads):
        block_gain = block.astype(np.int64)  # in place from here: one int64 block at most
        block_gain -= u[chunk][:, None]
        block_gain -= v[sub][None, :]
        block_gain[block < 0] = 0
        # stored pairs were priced above: each row's own run of them. The range between
        # the chunk's first and last row held the stored pairs of nearly every flagged
        # row (a chunk's rows are scattered), 17 million at a 95,000 x 30,000 call for
        # each of its hundreds of chunks: most of pricing's time there
        local, runs = runs_of(s_codes, chunk, store.n_cols)
        here_c = s_codes[runs] % store.n_cols
        at = np.searchsorted(sub, here_c)
        hit = (at < len(sub)) & (sub[np.minimum(at, len(sub) - 1)] == here_c)
        block_gain[local[hit], at[hit]] = 0
        np.maximum(block_gain, 0, out=block_gain)
        total += int(block_gain.sum())
        keys = _gain_keys(index, chunk, sub, block_gain)  # the gains' block, in place
        r, c = _nonzero(_among_best(keys, per_row))
        found.append(_best_per_row(index, chunk[r], sub[c], block[r, c], keys[r, c] >> 16,
                                   per_row))
        if columns.width:
            r, c = _nonzero(columns.candidates(keys, sub))
            columns.merge(chunk[r], sub[c], keys[r, c], block[r, c])
    rows, cols, vals, _ = _best_per_row(index, *(np.concatenate(part) for part in zip(*found)),
                                        per_row=per_row)
    # and each expert's best improving pairs: where every proposal's best gains are with
    # the same experts, those are the arcs that let the others take load (at a
    # 100,000-proposal synthetic call, two rounds of the proposals' pairs alone raised
    # the flow from 110.4 to 117.2 million, bound 12.9 billion; with the experts' too,
    # to 118.58, bound 0.14 billion, and the optimum, 118.60, two rounds later)
    c_rows, c_cols, c_vals = columns.pairs()
    codes, first = np.unique(np.concatenate([rows * store.n_cols + cols,
                                             c_rows * store.n_cols + c_cols]),
                             return_index=True)
    vals = np.concatenate([vals, c_vals])[first].astype(np.int64)
    rows, cols = np.divmod(codes, store.n_cols)
    return _Pricing(total, rows, cols, vals, int(sum(len(g[0]) for g in groups)))


def _gain_keys(index: _Index, chunk: np.ndarray, sub: np.ndarray,
               gain: np.ndarray) -> np.ndarray:
    """``gain`` (rows ``chunk`` x columns ``sub``, >= 0) turned in place into selection
    keys: gain << 16 | the pair's tie order, -1 where nothing is gained."""
    nothing = gain <= 0
    gain <<= 16
    gain |= index.block_ties(chunk, sub)
    gain[nothing] = -1
    return gain


def _among_best(keys: np.ndarray, per_row: int) -> np.ndarray:
    """A mask holding each row's best ``per_row`` entries of ``keys`` (:func:`_gain_keys`)
    among a few more: everything above a cut read from a sample of the columns, or,
    where that holds fewer than ``per_row``, above the row's exact ``per_row``-th key.
    A partition of every row of every block was half of a pricing round at a
    100,000-proposal call (70 of 135 s)."""
    n, m = keys.shape
    if m <= 4 * per_row:
        return keys >= 0
    cut = _sampled_cut(keys, max(1, m // (32 * per_row)), 2 * per_row)
    mask = keys > cut[:, None]
    # a row with fewer above its cut may hide some of its best at the cut itself
    short = np.flatnonzero((mask.sum(axis=1) < per_row) & (cut >= 0))
    if short.size:
        exact = np.partition(keys[short], m - per_row, axis=1)[:, m - per_row]
        mask[short] = keys[short] >= exact[:, None]
    return mask & (keys >= 0)


def _best_per_row(index: _Index, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                  gains: np.ndarray,
                  per_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's best ``per_row`` pairs by (gain desc, then the pairs' tie order),
    sorted by row: a deterministic choice. Ties by column would send every proposal of
    a profile to the same lowest-numbered experts round after round (saturating them;
    at a 100,000-proposal call the bound stayed 300 times the flow after two rounds).
    Pricing keeps only these of each slice and block as it goes (a pair is in one of
    them only, so the best of the bests is the best of all) rather than every
    improving pair outside the network to the end, sorted whole: at most ``per_row`` a
    row is held, whatever the duals make improving."""
    # by key (gain, then tie order) descending, as blocks are cut by
    order = np.lexsort((cols, -index.pair_keys(rows, cols, gains), rows))
    pick = order[_places(rows[order]) < per_row]
    return rows[pick], cols[pick], vals[pick], gains[pick]


def _may_hide_gain(ceiling: np.ndarray, col_max: np.ndarray, u: np.ndarray,
                   v: np.ndarray) -> np.ndarray:
    """Rows whose unstored pairs could have a - u - v > 0.

    An unstored pair (p, e) is worth at most min(ceiling_p, col_max_e), so it can only
    improve if v_e < ceiling_p - u_p and col_max_e - v_e > u_p: with the experts sorted
    by v, one binary search and a running maximum of col_max - v answer that per row."""
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(v, kind="stable")
    headroom = np.maximum.accumulate((col_max - v)[order])  # best col_max - v among the k lowest v
    below = np.searchsorted(v[order], ceiling - u, side="left")  # experts with v < ceiling - u
    some = below > 0
    flagged = np.zeros(len(u), dtype=bool)
    flagged[some] = headroom[below[some] - 1] > u[some]
    return np.flatnonzero(flagged & (ceiling >= 0))


def _widen(model: AffinityModel, index: _Index, store: _Store, rows: np.ndarray,
           width: np.ndarray, threads: int = 1) -> None:
    """Make the ``width[r]`` best eligible pairs of each row r in ``rows`` arcs. Rows
    whose stored pairs may not reach that far store their best ``width[r]`` first (not
    their whole row: at 30,000 experts whole rows took the solver's child to 8.7 GB), in
    one insertion into the store (one a block of rows copied the store each time)."""
    counts = np.bincount(store.rows, minlength=len(width))
    short = rows[(counts[rows] < width[rows]) & (store.ceiling[rows] >= 0)]

    def best(chunk):
        block = _block_rows(model, index, chunk)
        r, c, ceiling = _best_whole(index.keys(chunk, block), int(width[chunk].max()))
        return chunk, r, c, block[r, c], ceiling

    found = []
    for chunk, r, c, vals, ceiling in _in_threads(best, _row_chunks(short), threads):
        # what is left unstored is below both the old cut and this one
        store.ceiling[chunk] = np.minimum(store.ceiling[chunk], ceiling)
        found.append((chunk[r], c, vals))
    if found:
        store.add(*(np.concatenate(part) for part in zip(*found)), in_flow=False)
    at = np.flatnonzero(store.rows_mask(rows))
    r, c = store.rows[at], store.cols[at]
    order = np.lexsort((c, -index.pair_keys(r, c, store.vals[at]), r))
    at, r = at[order], r[order]
    pick = _places(r) < width[r]
    store.in_flow[at[pick]] = True


# ------------------------------------------------------------------------ solve
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
    clock = _Clock(progress)
    problem = canonical(problem)
    shortfalls = diagnose(problem)
    clock.lap("diagnose")
    if shortfalls:
        return AssignmentResult("infeasible", diagnosis=tuple(s.message for s in shortfalls),
                                stats=clock.stats())
    index = _Index.of(problem)
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
    per_expert = min(_COLUMN_CANDIDATES_MAX, 2 * int(unit_cap.max(initial=0)))
    model.prepare(index.cols)  # before the threads share it
    store = _collect(model, index, first, _STORED_PER_CANDIDATE * first, options.threads,
                     per_expert, _dealt(index, unit_cap))
    clock.lap("affinity", f"{n_rows} x {n_cols} pairs, {len(store.codes)} stored, "
                          f"{first} per proposal, {per_expert} per expert and one dealt "
                          "assignment in the network")
    eligible = index.eligible_per_row()
    width = np.full(n_rows, first)
    rounds = widenings = repriced = 0
    while True:
        flow = _solve_flow(index, store, problem.load_penalty, unit_cap)
        clock.lap("solve", f"{len(flow.pair_rows)} arcs, {flow.shipped} evaluations placed")
        if flow.shipped < int(index.need.sum()):
            widenings += 1
            if widenings > 64:  # doubling reaches every column long before this
                raise RuntimeError("candidate lists stopped growing")
            stuck = _blocked_rows(flow, index.need, n_cols)
            arcs = np.bincount(flow.pair_rows, minlength=n_rows)
            open_rows = stuck[arcs[stuck] < eligible[stuck]]
            if open_rows.size == 0:
                return _infeasible(problem, index, stuck, flow, clock)
            width[open_rows] = np.maximum(width[open_rows], arcs[open_rows]) * 2
            _widen(model, index, store, open_rows, width, options.threads)
            clock.lap("candidates", f"sparse graph infeasible: widened {open_rows.size} lists")
            continue
        rounds += 1
        u, v = _lift(*_potentials(flow, n_rows, n_cols), flow)
        clock.lap("duals")
        priced = _price(model, index, store, u, v, int(width.min()), options.threads,
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


class _Clock:
    """Laps for the result's ``stats``: wall seconds per phase (summed), and the
    process's CPU seconds per phase (``cpu_<phase>_s``), which other load on the
    machine does not inflate."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._start = self._last = time.perf_counter()
        self._cpu_start = self._cpu_last = time.process_time()
        self._laps: dict[str, float] = {}
        self._progress = progress

    def lap(self, name: str, detail: str = ""):
        now, cpu = time.perf_counter(), time.process_time()
        self._laps[f"{name}_s"] = self._laps.get(f"{name}_s", 0.0) + now - self._last
        self._laps[f"cpu_{name}_s"] = self._laps.get(f"cpu_{name}_s", 0.0) + cpu - self._cpu_last
        if self._progress:
            self._progress(f"{name} {now - self._last:.2f} s (cpu {cpu - self._cpu_last:.2f} s)"
                           + (f": {detail}" if detail else ""))
        self._last, self._cpu_last = now, cpu

    def note(self, **values):
        self._laps.update(values)

    def total(self) -> float:
        return time.perf_counter() - self._start

    def stats(self) -> dict:
        return {**self._laps, "total_s": self.total(),
                "cpu_total_s": time.process_time() - self._cpu_start,
                "peak_rss_mb": peak_rss_mb()}


def return_freed_memory() -> None:
    """Hand the pages the allocator holds free back to the system (glibc's
    ``malloc_trim``). Blocks freed among blocks still in use stay resident otherwise:
    the abstracts a solve drops once its text model is built would still count in the
    child's peak (at 100,000 x 30,000 it was 26 MB lower with this). Elsewhere than
    glibc, nothing is done."""
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


@functools.cache
def _libc():
    return ctypes.CDLL("libc.so.6")


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB. On Linux the high-water mark of its own
    address space (``VmHWM``): getrusage's ``ru_maxrss`` also counts the parent's size
    at the moment it started the process (subprocess starts children with vfork), so a
    solver child under a 1 GB parent read at least 1 GB whatever it used itself."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
