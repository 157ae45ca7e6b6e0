"""Pricing: the Lagrangian bound over every eligible pair, the pairs outside the network
that would improve on it (column generation), and the widening of blocked proposals'
candidate lists."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.evaluation.domain.blocked import runs_of
from services.evaluation.adapters.solver import limits
from services.evaluation.adapters.solver.affinity import AffinityModel
from services.evaluation.adapters.solver.index import Index
from services.evaluation.adapters.solver.pairs import (
    ColumnBest, Store, best_whole, block_rows, in_threads, nonzero, places, row_chunks,
    sampled_cut)


@dataclass
class _Pricing:
    pair_part: int  # sum over every eligible pair of max(0, a - u - v)
    add_rows: np.ndarray  # improving pairs outside the network, to add
    add_cols: np.ndarray
    add_vals: np.ndarray
    repriced: int  # rows recomputed because their ceiling could hide an improving pair


def price(model: AffinityModel, index: Index, store: Store, u: np.ndarray,
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
    columns = ColumnBest(store.n_cols, per_col, dtype=np.int64)
    # the stored pairs a slice at a time: whole, each temporary was an int64 array of
    # every stored pair (7 million at a topic of 38,000 x 30,000)
    for start in range(0, len(store.codes), limits.PAIRS_PER_SLICE):
        part = slice(start, start + limits.PAIRS_PER_SLICE)
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
    step = limits.ROWS_PER_CHUNK
    groups = [(flagged[start:start + step], int(reach[start:start + step].max()))
              for start in range(0, len(flagged), step)]

    def block_of(group):
        chunk, width = group
        chunk = np.sort(chunk)
        sub = np.sort(by_v[:width])  # the experts cheap enough for some row of the chunk
        # every column, then those: the model keeps the experts' side of the product for
        # every column (prepare), where one for each group's own columns was built afresh
        return chunk, sub, block_rows(model, index, chunk)[:, sub]

    for chunk, sub, block in in_threads(block_of, groups, threads):
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
        r, c = nonzero(_among_best(keys, per_row))
        found.append(_best_per_row(index, chunk[r], sub[c], block[r, c], keys[r, c] >> 16,
                                   per_row))
        if columns.width:
            r, c = nonzero(columns.candidates(keys, sub))
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


def _gain_keys(index: Index, chunk: np.ndarray, sub: np.ndarray,
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
    cut = sampled_cut(keys, max(1, m // (32 * per_row)), 2 * per_row)
    mask = keys > cut[:, None]
    # a row with fewer above its cut may hide some of its best at the cut itself
    short = np.flatnonzero((mask.sum(axis=1) < per_row) & (cut >= 0))
    if short.size:
        exact = np.partition(keys[short], m - per_row, axis=1)[:, m - per_row]
        mask[short] = keys[short] >= exact[:, None]
    return mask & (keys >= 0)


def _best_per_row(index: Index, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
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
    pick = order[places(rows[order]) < per_row]
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


def widen(model: AffinityModel, index: Index, store: Store, rows: np.ndarray,
          width: np.ndarray, threads: int = 1) -> None:
    """Make the ``width[r]`` best eligible pairs of each row r in ``rows`` arcs. Rows
    whose stored pairs may not reach that far store their best ``width[r]`` first (not
    their whole row: at 30,000 experts whole rows took the solver's child to 8.7 GB), in
    one insertion into the store (one a block of rows copied the store each time)."""
    counts = np.bincount(store.rows, minlength=len(width))
    short = rows[(counts[rows] < width[rows]) & (store.ceiling[rows] >= 0)]

    def best(chunk):
        block = block_rows(model, index, chunk)
        r, c, ceiling = best_whole(index.keys(chunk, block), int(width[chunk].max()))
        return chunk, r, c, block[r, c], ceiling

    found = []
    for chunk, r, c, vals, ceiling in in_threads(best, row_chunks(short), threads):
        # what is left unstored is below both the old cut and this one
        store.ceiling[chunk] = np.minimum(store.ceiling[chunk], ceiling)
        found.append((chunk[r], c, vals))
    if found:
        store.add(*(np.concatenate(part) for part in zip(*found)), in_flow=False)
    at = np.flatnonzero(store.rows_mask(rows))
    r, c = store.rows[at], store.cols[at]
    order = np.lexsort((c, -index.pair_keys(r, c, store.vals[at]), r))
    at, r = at[order], r[order]
    pick = places(r) < width[r]
    store.in_flow[at[pick]] = True
