"""The pairs no new assignment may make (conflicted, refused or already kept), in a
problem's own order, for the diagnosis and the solver.

They are held by proposal (compressed rows): per proposal position the start of its run,
and the expert positions of every pair in 16 bits where the pool has at most 65,536
experts (32 otherwise). A 100,000-proposal call has 33 million such pairs: as the
sorted 32-bit codes of a :class:`.pairs.PairSet` they were 0.13 GB through the whole
solve, here 66 MB, and the solver lets the pair sets go once these are built
(:meth:`.assignment.AssignmentProblem.for_solving`).

Everything here reads the pairs a slice at a time, so no 64-bit temporary of every pair
exists at once.
"""
from __future__ import annotations

import numpy as np

_SLICE = 1 << 20  # pairs read at once


class BlockedPairs:
    """Blocked pairs by proposal: ``experts[starts[p]:starts[p + 1]]`` are proposal p's
    blocked experts, ascending (problem positions)."""

    def __init__(self, codes: np.ndarray, n_proposals: int, n_experts: int):
        """From sorted, distinct codes ``proposal * n_experts + expert``."""
        self.n_proposals = n_proposals
        self.width = max(n_experts, 1)
        self.experts = np.empty(codes.size, dtype=_expert_type(self.width))
        counts = np.zeros(n_proposals, dtype=np.int64)
        for start in range(0, codes.size, _SLICE):
            part = codes[start:start + _SLICE]
            self.experts[start:start + part.size] = part % self.width
            counts += np.bincount(part // self.width, minlength=n_proposals)
        self.starts = np.zeros(n_proposals + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])

    def __len__(self) -> int:
        return int(self.experts.size)

    def per_proposal(self, experts: np.ndarray | None = None) -> np.ndarray:
        """How many blocked pairs each proposal has (with ``experts``, a boolean mask
        per expert: only pairs with an expert in it)."""
        if experts is None:
            return np.diff(self.starts)
        counts = np.zeros(self.n_proposals, dtype=np.int64)
        for proposals, part in self._slices():
            counts += np.bincount(proposals[experts[part]], minlength=self.n_proposals)
        return counts

    def per_expert(self, proposals: np.ndarray) -> np.ndarray:
        """How many blocked pairs each expert has with the proposals in ``proposals``
        (a boolean mask per proposal)."""
        counts = np.zeros(self.width, dtype=np.int64)
        for rows, part in self._slices():
            counts += np.bincount(part[proposals[rows]], minlength=self.width)
        return counts

    def of_proposals(self, proposals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The blocked pairs of ``proposals`` (sorted positions): (index into
        ``proposals``, expert position) of each, by proposal then expert."""
        proposals = np.asarray(proposals, dtype=np.int64)
        first = self.starts[proposals]
        local, at = _runs(first, self.starts[proposals + 1] - first)
        return local, self.experts[at]

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(proposal positions, expert positions) of every pair, 32-bit: a whole copy,
        for tests and instance files, not for the solve."""
        rows = np.repeat(np.arange(self.n_proposals, dtype=np.int32), np.diff(self.starts))
        return rows, self.experts.astype(np.int32)

    def _slices(self):
        """(proposal of each pair, expert of each pair), a slice of pairs at a time."""
        for start in range(0, self.experts.size, _SLICE):
            part = self.experts[start:start + _SLICE]
            stop = start + part.size
            # the proposals whose runs meet the slice, and how much of each run is in it
            first = int(np.searchsorted(self.starts, start, side="right")) - 1
            last = int(np.searchsorted(self.starts, stop, side="left"))
            runs = (np.minimum(self.starts[first + 1:last + 1], stop)
                    - np.maximum(self.starts[first:last], start))
            yield np.repeat(np.arange(first, last), runs), part


def _expert_type(width: int) -> type:
    return np.uint16 if width <= np.iinfo(np.uint16).max + 1 else np.int32


def runs_of(codes: np.ndarray, rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries of sorted ``codes`` (row * width + column) that belong to ``rows``
    (sorted): (position of the row in ``rows``, index into ``codes``) of each, in order.
    Two binary searches per row: a few rows' pairs are found among 10^7 without a pass."""
    first = np.asarray(rows, dtype=np.int64) * width
    # keys of the codes' own type (32 or 64 bits, :func:`.pairs.compact_codes`): with
    # another, each search converts all 10^7 codes first
    starts = np.searchsorted(codes, first.astype(codes.dtype), side="left")
    counts = np.searchsorted(codes, (first + width).astype(codes.dtype), side="left") - starts
    return _runs(starts, counts)


def _runs(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ``counts[i]`` entries from ``starts[i]``, one after another: (i, index) of
    every entry, in order."""
    local = np.repeat(np.arange(len(counts)), counts)
    return local, np.arange(int(counts.sum())) + np.repeat(starts - (np.cumsum(counts) - counts),
                                                           counts)
