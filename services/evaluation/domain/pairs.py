"""A set of ``(expert_id, proposal_id)`` pairs held as integers, for calls too large for
Python tuples.

A call of 50,000 proposals and 20,000 experts has about 11 million conflicted pairs: as a
``frozenset`` of string tuples they take over a gigabyte and seconds to build, filter and
look up. :class:`PairSet` keeps the ids once (two tables) and the pairs as one sorted
array of ``proposal * len(experts) + expert`` codes. It is a read-only
:class:`collections.abc.Set` of pairs, so code written for a ``frozenset`` of pairs (the
membership tests of :func:`.assignment.violations`, unions, equality in tests) works
unchanged; the solver and the diagnosis use :meth:`PairSet.codes_in` instead, which maps
every pair to codes in a problem's own order with a few array operations.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Set
from functools import cached_property

import numpy as np

Pair = tuple[str, str]  # (expert_id, proposal_id)


class PairSet(Set):
    """Immutable set of ``(expert_id, proposal_id)`` pairs (see the module docstring)."""

    def __init__(self, expert_ids: Sequence[str], proposal_ids: Sequence[str],
                 experts: np.ndarray, proposals: np.ndarray):
        """Pairs ``(expert_ids[experts[i]], proposal_ids[proposals[i]])``; duplicates are
        dropped. The id tables must not repeat an id."""
        self.expert_ids = tuple(expert_ids)
        self.proposal_ids = tuple(proposal_ids)
        width = max(len(self.expert_ids), 1)
        # one array of the codes' final type (compact_codes), worked on in place: 31
        # million pairs are 0.12 GB in 32 bits; a 64-bit array made first and narrowed
        # after was 0.25 GB more at the solver child's peak. Positions are never
        # negative and every code is below len(proposal_ids) * width, so the unsafe
        # cast of the experts' positions is exact.
        codes = np.array(proposals, dtype=_code_type(len(self.proposal_ids) * width))
        codes *= width
        np.add(codes, experts, out=codes, casting="unsafe")
        self.codes = sorted_unique(codes, in_place=True)  # sorted: membership is a search

    @classmethod
    def of(cls, pairs: Iterable[Pair]) -> "PairSet":
        """From any iterable of pairs (a PairSet is returned as it is)."""
        if isinstance(pairs, PairSet):
            return pairs
        pairs = list(pairs)
        expert_ids = sorted({e for e, _ in pairs})
        proposal_ids = sorted({p for _, p in pairs})
        e_pos = {e: i for i, e in enumerate(expert_ids)}
        p_pos = {p: i for i, p in enumerate(proposal_ids)}
        return cls(expert_ids, proposal_ids,
                   np.fromiter((e_pos[e] for e, _ in pairs), np.int64, len(pairs)),
                   np.fromiter((p_pos[p] for _, p in pairs), np.int64, len(pairs)))

    @classmethod
    def join(cls, expert_ids: Sequence[str], expert_keys: Sequence[str],
             proposal_ids: Sequence[str], proposal_keys: Sequence[Iterable[str]]) -> "PairSet":
        """Every pair whose expert's key is one of the proposal's keys (a conflict rule
        written as keys, :func:`.conflicts.conflict_pairs`), joined on integer codes."""
        codes: dict[str, int] = {}
        e_code = np.fromiter((codes.setdefault(k, len(codes)) for k in expert_keys),
                             np.int64, len(expert_keys))
        p_keys = [[codes[k] for k in keys if k in codes] for keys in proposal_keys]
        p_code = np.fromiter((k for keys in p_keys for k in keys), np.int64)
        p_pos = np.repeat(np.arange(len(p_keys)),
                          np.array([len(keys) for keys in p_keys], dtype=np.int64))
        # experts grouped by key: each proposal key picks the run of experts sharing it
        order = np.argsort(e_code, kind="stable")
        first = np.searchsorted(e_code[order], p_code, side="left")
        count = np.searchsorted(e_code[order], p_code, side="right") - first
        # the pairs' codes written a run of proposal keys at a time into one array of
        # their final type: whole, the 64-bit positions and offsets of 33 million
        # pairs were 1.1 GB above the caller's size (bench/assignment.py, 100,000 x
        # 30,000), the largest peak of a call's first assignment
        width = max(len(expert_ids), 1)
        ends = np.cumsum(count)
        total = int(ends[-1]) if ends.size else 0
        out = np.empty(total, dtype=_code_type(len(proposal_ids) * width))
        cuts = np.searchsorted(ends, np.arange(_SLICE, total, _SLICE), side="right")
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(count)]):
            run = count[start:stop]
            made = int(run.sum())
            if not made:
                continue
            offsets = np.arange(made) - np.repeat(np.cumsum(run) - run, run)
            at = int(ends[start] - count[start])
            pairs = np.repeat(p_pos[start:stop], run)
            pairs *= width
            pairs += order[np.repeat(first[start:stop], run) + offsets]
            out[at:at + made] = pairs
        return cls._of_codes(expert_ids, proposal_ids, sorted_unique(out, in_place=True))

    @classmethod
    def of_codes(cls, expert_ids: Sequence[str], proposal_ids: Sequence[str],
                 codes: np.ndarray) -> "PairSet":
        """The pairs ``codes`` names over the two tables, holding that array as it is
        (a solver's child reads 33 million of them from its parent). Checked a slice at
        a time, so a garbled array is refused (ValueError) rather than indexing past
        the tables: of the type :func:`compact_codes` gives, strictly increasing, each
        below ``len(proposal_ids) * len(expert_ids)``."""
        limit = len(proposal_ids) * max(len(expert_ids), 1)
        if codes.ndim != 1 or codes.dtype != np.dtype(_code_type(limit)):
            raise ValueError(f"pair codes of type {codes.dtype} and {codes.ndim} dimensions: "
                             f"one dimension of {np.dtype(_code_type(limit))} expected")
        if codes.size and (int(codes[0]) < 0 or int(codes[-1]) >= limit):
            raise ValueError(f"a pair code outside 0..{limit - 1}")
        for start in range(0, codes.size, _SLICE):
            # one code more than the slice: the pair across its end is compared too
            part = codes[start:start + _SLICE + 1]
            if not (part[1:] > part[:-1]).all():
                raise ValueError("pair codes not strictly increasing")
        return cls._of_codes(expert_ids, proposal_ids, codes)

    @classmethod
    def _of_codes(cls, expert_ids: Sequence[str], proposal_ids: Sequence[str],
                  codes: np.ndarray) -> "PairSet":
        """From codes over the two tables already sorted, unique and of their final
        type (:func:`compact_codes`)."""
        pairs = cls.__new__(cls)
        pairs.expert_ids, pairs.proposal_ids = tuple(expert_ids), tuple(proposal_ids)
        pairs.codes = codes
        return pairs

    # ---------------------------------------------------------------- as integers
    def indices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(experts, proposals)``: positions in the id tables, sorted by proposal."""
        width = max(len(self.expert_ids), 1)
        return self.codes % width, self.codes // width

    def codes_in(self, expert_ids: Sequence[str], proposal_ids: Sequence[str]) -> np.ndarray:
        """The pairs in the given id sequences as sorted codes ``proposal position *
        len(expert_ids) + expert position`` in their final type (:func:`compact_codes`),
        pairs naming an id not in them left out. With this set's own tables that is
        :attr:`codes` itself, not a copy: a problem decoded from the solver's wire form
        has them, and 10^7 pairs are 0.1 GB. Otherwise mapped a slice at a time into
        the result: two 32-bit position arrays and 64-bit codes made whole first were
        0.77 GB above the caller's size for 33 million pairs."""
        if self._same_tables(expert_ids, proposal_ids):
            return self.codes
        e_map, p_map = _map(self.expert_ids, expert_ids), _map(self.proposal_ids, proposal_ids)
        width, new_width = max(len(self.expert_ids), 1), max(len(expert_ids), 1)
        out = np.empty(self.codes.size, dtype=_code_type(len(proposal_ids) * new_width))
        at = 0
        for start in range(0, self.codes.size, _SLICE):
            codes = self.codes[start:start + _SLICE]
            experts, proposals = e_map[codes % width], p_map[codes // width]
            known = (experts >= 0) & (proposals >= 0)
            mapped = proposals[known].astype(np.int64)
            mapped *= new_width
            mapped += experts[known]
            out[at:at + mapped.size] = mapped
            at += mapped.size
        out = out[:at] if at == out.size else out[:at].copy()
        out.sort()
        return out

    def _same_tables(self, expert_ids: Sequence[str], proposal_ids: Sequence[str]) -> bool:
        return (tuple(expert_ids) == self.expert_ids
                and tuple(proposal_ids) == self.proposal_ids)

    def restrict(self, proposal_ids: Iterable[str]) -> "PairSet":
        """The pairs whose proposal is one of ``proposal_ids``."""
        wanted = set(proposal_ids)
        keep = np.fromiter((p in wanted for p in self.proposal_ids), bool,
                           len(self.proposal_ids))
        experts, proposals = self.indices()
        inside = keep[proposals] if len(keep) else np.zeros(0, dtype=bool)
        return PairSet(self.expert_ids, self.proposal_ids, experts[inside], proposals[inside])

    def union(self, *others: Iterable[Pair]) -> "PairSet":
        """All pairs of this set and ``others`` (vectorised for PairSets): each part's
        codes in the union's tables, joined and sorted once."""
        parts = [self] + [PairSet.of(o) for o in others if len(o)]
        if len(parts) == 1:
            return self
        expert_ids = sorted(set().union(*(p.expert_ids for p in parts)))
        proposal_ids = sorted(set().union(*(p.proposal_ids for p in parts)))
        codes = np.concatenate([part.codes_in(expert_ids, proposal_ids) for part in parts])
        return PairSet._of_codes(expert_ids, proposal_ids, sorted_unique(codes, in_place=True))

    # ---------------------------------------------------------------- Set protocol
    def __len__(self) -> int:
        return int(self.codes.size)

    def __iter__(self) -> Iterator[Pair]:
        experts, proposals = self.indices()
        e_ids, p_ids = self.expert_ids, self.proposal_ids
        return ((e_ids[e], p_ids[p]) for e, p in zip(experts.tolist(), proposals.tolist()))

    def __contains__(self, pair) -> bool:
        try:
            expert_id, proposal_id = pair
            e, p = self._expert_pos[expert_id], self._proposal_pos[proposal_id]
        except (KeyError, TypeError, ValueError):
            return False
        # a key of the codes' own type: a Python int makes numpy convert every code
        code = self.codes.dtype.type(p * max(len(self.expert_ids), 1) + e)
        at = int(np.searchsorted(self.codes, code))
        return at < self.codes.size and int(self.codes[at]) == code

    def __or__(self, other):
        if not isinstance(other, Iterable):
            return NotImplemented
        return self.union(other)

    __ror__ = __or__

    @classmethod
    def _from_iterable(cls, pairs: Iterable[Pair]) -> "PairSet":
        return cls.of(pairs)

    __hash__ = Set._hash

    def __repr__(self) -> str:
        return f"PairSet({len(self)} pairs)"

    @cached_property
    def _expert_pos(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.expert_ids)}

    @cached_property
    def _proposal_pos(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.proposal_ids)}


def _code_type(limit: int) -> type:
    """The type :func:`compact_codes` gives codes below ``limit``."""
    return np.uint32 if limit <= np.iinfo(np.uint32).max else np.int64


def compact_codes(codes: np.ndarray, limit: int) -> np.ndarray:
    """Sorted codes below ``limit`` in 32 bits where ``limit`` fits them (a call of
    100,000 proposals and 30,000 experts: 3 x 10^9 codes), else as they are: the pairs
    stay in memory for a whole solve, and its 33 million conflicted pairs are 0.13 GB
    less. Code that searches them must search with keys of their own type (else numpy
    converts every code on each search)."""
    if _code_type(limit) is np.uint32 and codes.dtype != np.uint32:
        return codes.astype(np.uint32)
    return codes


def sorted_unique(values: np.ndarray, in_place: bool = False) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2's default hashes, which on 10^7 codes was
    measured ten times slower. ``in_place``: ``values`` may be sorted where it is (the
    caller's own array), and is returned as it is when nothing repeats."""
    if in_place:
        values.sort()
    else:
        values = np.sort(values)
    if values.size < 2:
        return values
    first = np.empty(values.size, dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values if first.all() else values[first]


_SLICE = 1 << 20  # pairs worked on at once (PairSet.join, PairSet.codes_in)


def _map(table: Sequence[str], order: Sequence[str]) -> np.ndarray:
    """For each id of ``table`` its position in ``order`` (-1 when absent), 32-bit."""
    where = {value: i for i, value in enumerate(order)}
    return np.fromiter((where.get(value, -1) for value in table), np.int32, len(table))
