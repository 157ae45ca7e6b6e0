"""The problem in the solver's positions: proposals and experts sorted by id, their needs,
loads, blocked pairs and the fixed tie order of each pair."""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from services.evaluation.domain.assignment import AssignmentProblem, needs, remaining_loads
from services.evaluation.domain.blocked import BlockedPairs


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
class Index:
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
    def of(cls, problem: AssignmentProblem) -> "Index":
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
