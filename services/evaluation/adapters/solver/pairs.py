"""The pairs a solve keeps: one streamed pass stores each proposal's best pairs (and each
expert's), the ceiling of the ones it did not store, and the assignment dealt blind to
affinity that lets the first network place every evaluation the loads allow."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from services.evaluation.domain.pairs import compact_codes
from services.evaluation.adapters.solver import limits
from services.evaluation.adapters.solver.affinity import AffinityModel
from services.evaluation.adapters.solver.index import Index


class Store:
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


def block_rows(model: AffinityModel, index: Index, chunk: np.ndarray) -> np.ndarray:
    """int16 affinities of index rows ``chunk`` (sorted) x every column; blocked pairs
    -1."""
    block = model._chunk(index.rows[chunk], index.cols)
    local, cols = index.blocked_in(chunk)
    block[local, cols] = -1
    return block


def row_chunks(rows: np.ndarray):
    for start in range(0, len(rows), limits.ROWS_PER_CHUNK):
        yield rows[start:start + limits.ROWS_PER_CHUNK]


def in_threads(work: Callable, items, threads: int):
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
    (:meth:`Index.keys`): (local rows, cols, values) sorted by (row, column), which of
    them are among the row's best ``width``, and per row a ceiling of the eligible
    values left out (-1 if none).

    The cut is read from a fixed sample of the columns (a partition of a few thousand
    keys per row, not of all of them); every entry above it is kept, and the cut's value
    is the ceiling. Rows where it keeps fewer than ``width + 1`` are chosen from whole."""
    n, m = keys.shape
    cut = np.full(n, -1, dtype=keys.dtype)
    if m > 4 * store_width:
        cut = sampled_cut(keys, max(1, store_width // 24), store_width)
    r, c = nonzero(keys > cut[:, None])
    ceiling = np.where(cut >= 0, cut >> 16, -1).astype(np.int64)
    few = np.bincount(r, minlength=n) <= max(width, 1)
    if few.any():
        keep = ~few[r]
        f_rows = np.flatnonzero(few)
        f_r, f_c, f_ceiling = best_whole(keys[f_rows], store_width)
        r = np.concatenate([r[keep], f_rows[f_r]])
        c = np.concatenate([c[keep], f_c])
        ceiling[f_rows] = f_ceiling
        order = np.lexsort((c, r))
        r, c = r[order], c[order]
    k = keys[r, c].astype(np.int64)
    return r, c, k >> 16, _best_of_rows(r, k, n, width), ceiling


def sampled_cut(keys: np.ndarray, step: int, want: int) -> np.ndarray:
    """Per row, about its ``want``-th largest key, read from every ``step``-th column
    (a partition of a few thousand keys per row, not of all of them)."""
    sample = keys[:, ::step]
    size = sample.shape[1]
    rank = min(size, max(1, round(want * size / keys.shape[1])))
    return np.partition(sample, size - rank, axis=1)[:, size - rank]


def places(groups: np.ndarray) -> np.ndarray:
    """Each entry's place (0, 1, ...) within its run of equal values of ``groups``
    (sorted): where only each group's first few are kept."""
    return np.arange(len(groups)) - np.searchsorted(groups, groups)


def nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask, four times faster (measured on 20 M entries)."""
    return np.divmod(np.flatnonzero(mask), max(mask.shape[1], 1))


def best_whole(keys: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


class ColumnBest:
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
        if self._count >= max(self.keys.size, limits.PAIRS_PER_SLICE >> 4):
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
        keep = order[places(all_c[order]) < self.width]
        for held, part in zip((self.keys, self.rows, self.vals), parts):
            held[:, touched] = part[keep].reshape(len(touched), self.width).T
        self.floor[touched] = self.keys[:, touched].min(axis=0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, values) of the kept pairs (those with a key: >= 0)."""
        self._flush()
        k, c = np.nonzero(self.keys >= 0)
        return self.rows[k, c].astype(np.int64), c, self.vals[k, c]


def dealt(index: Index, unit_cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def collect(model: AffinityModel, index: Index, width: int, store_width: int,
            threads: int = 1, column_width: int = 0,
            also: tuple[np.ndarray, np.ndarray] | None = None) -> Store:
    """The streamed pass: about every row's best ``store_width`` pairs stored, its
    best ``width`` of them arcs of the network, each column's best ``column_width`` rows
    stored and arcs too, and the eligible ones of the pairs ``also`` (rows, cols, sorted
    by row) arcs, whatever their value."""
    n_cols = len(index.cols)
    limit = len(index.rows) * max(n_cols, 1)  # codes are below it
    codes, vals, in_flow = [], [], []
    ceiling = np.full(len(index.rows), -1, dtype=np.int64)
    col_max = np.full(n_cols, -1, dtype=np.int64)
    columns = ColumnBest(n_cols, column_width)
    also_rows, also_cols = also if also is not None else (np.zeros(0, np.int64),) * 2
    extra = []

    def select(chunk):  # chunk: consecutive rows
        block = block_rows(model, index, chunk)
        keys = index.keys(chunk, block)
        at = slice(*np.searchsorted(also_rows, [chunk[0], chunk[-1] + 1]))
        a_r, a_c = also_rows[at], also_cols[at]
        a_v = block[a_r - chunk[0], a_c]
        b_r, b_c = nonzero(columns.candidates(keys))  # a floor that may have risen since
        return (chunk, block.max(axis=0), _select(keys, store_width, width),
                (a_r[a_v >= 0], a_c[a_v >= 0], a_v[a_v >= 0]),
                (chunk[b_r], b_c, keys[b_r, b_c], block[b_r, b_c]))

    chunks = row_chunks(np.arange(len(index.rows)))
    for chunk, best, (r, c, v, arcs, top), mine, rising in in_threads(select, chunks, threads):
        np.maximum(col_max, best, out=col_max)
        ceiling[chunk] = top
        # each block's codes in the store's own type at once: 64-bit parts, their
        # concatenation and its 32-bit copy were the affinity pass's peak (100,000 x
        # 30,000: 19 million pairs, 0.4 GB of codes at the end of the pass)
        codes.append(compact_codes(chunk[r] * max(n_cols, 1) + c, limit))
        vals.append(v.astype(np.int16))  # the blocks' own type: 7 million pairs at scale
        in_flow.append(arcs)
        extra.append(mine)
        columns.merge(*rising)
    # the blocks' parts go once joined, before the experts' pairs are inserted (which
    # copies the store's arrays once more)
    codes, vals, in_flow = (np.concatenate(parts) for parts in (codes, vals, in_flow))
    store = Store(n_cols, codes, vals, in_flow, ceiling, col_max)
    del codes, vals, in_flow
    e_rows, e_cols, e_vals = (np.concatenate(part) for part in zip(*extra, columns.pairs()))
    store.add(e_rows, e_cols, e_vals.astype(np.int16), in_flow=True)
    return store
