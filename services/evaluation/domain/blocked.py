"""The pairs no new assignment may make (conflicted, refused or already kept), in a
problem's own order, for the diagnosis and the solver.

They are held as one sorted array of ``proposal position * len(experts) + expert
position`` codes: the form a :class:`.pairs.PairSet` in the problem's own id tables
already has, so a problem decoded in the solver's child shares its conflicts' array
instead of copying it. A 100,000-proposal call has 33 million such pairs; the two 32-bit
position arrays this replaces were a second 0.26 GB beside the set for the whole solve,
and the solver's index filtered a third copy of them when some expert had no free load.

Everything here reads the codes a slice at a time, so no 64-bit temporary of every pair
exists at once.
"""
from __future__ import annotations

import numpy as np

_SLICE = 1 << 20  # codes read at once


class BlockedPairs:
    """Sorted, distinct codes ``proposal * n_experts + expert`` (problem positions)."""

    def __init__(self, codes: np.ndarray, n_proposals: int, n_experts: int):
        self.codes = codes
        self.n_proposals = n_proposals
        self.width = max(n_experts, 1)

    def per_proposal(self, experts: np.ndarray | None = None) -> np.ndarray:
        """How many blocked pairs each proposal has (with ``experts``, a boolean mask
        per expert: only pairs with an expert in it)."""
        counts = np.zeros(self.n_proposals, dtype=np.int64)
        for part in self._slices():
            proposals = part // self.width
            if experts is not None:
                proposals = proposals[experts[part % self.width]]
            counts += np.bincount(proposals, minlength=self.n_proposals)
        return counts

    def per_expert(self, proposals: np.ndarray) -> np.ndarray:
        """How many blocked pairs each expert has with the proposals in ``proposals``
        (a boolean mask per proposal)."""
        counts = np.zeros(self.width, dtype=np.int64)
        for part in self._slices():
            experts = part[proposals[part // self.width]] % self.width
            counts += np.bincount(experts, minlength=self.width)
        return counts

    def of_proposals(self, proposals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The blocked pairs of ``proposals`` (sorted positions): (index into
        ``proposals``, expert position) of each, by proposal then expert."""
        local, at = runs_of(self.codes, proposals, self.width)
        return local, self.codes[at] % self.width

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(proposal positions, expert positions) of every pair, 32-bit: a whole copy,
        for tests and instance files, not for the solve."""
        return ((self.codes // self.width).astype(np.int32),
                (self.codes % self.width).astype(np.int32))

    def _slices(self):
        for start in range(0, self.codes.size, _SLICE):
            yield self.codes[start:start + _SLICE]


def runs_of(codes: np.ndarray, rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries of sorted ``codes`` (row * width + column) that belong to ``rows``
    (sorted): (position of the row in ``rows``, index into ``codes``) of each, in order.
    Two binary searches per row: a few rows' pairs are found among 10^7 without a pass."""
    first = np.asarray(rows, dtype=np.int64) * width
    # keys of the codes' own type (32 or 64 bits, :func:`.pairs.compact_codes`): with
    # another, each search converts all 10^7 codes first
    starts = np.searchsorted(codes, first.astype(codes.dtype), side="left")
    counts = np.searchsorted(codes, (first + width).astype(codes.dtype), side="left") - starts
    local = np.repeat(np.arange(len(counts)), counts)
    return local, np.arange(int(counts.sum())) + np.repeat(starts - (np.cumsum(counts) - counts),
                                                           counts)
