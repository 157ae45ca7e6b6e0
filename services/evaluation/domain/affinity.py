"""How well an expert fits a proposal: the affinity the assignment maximises.

Definition (integers, so the min-cost-flow solver works on exact costs)::

    area(p, e) = |areas(p) & areas(e)| / |areas(p)|      (0 when p lists no area)
    text(p, e) = cosine of the TF-IDF vectors of p's abstract and e's keywords, in [0, 1]
    affinity   = round(scale * (w_area * area + w_text * text) / (w_area + w_text))

so an affinity lies in ``0 .. scale``. ``area`` is the share of the proposal's integration
areas the expert covers (an expert covering more areas than the proposal needs is not
penalised). The TF-IDF model itself is fitted by the solver adapter (scikit-learn); this
module fixes what is compared and how the two signals combine, and gives the vectorised
form the solver uses on millions of pairs (numpy, as that many pairs need it).

Rounding is half-to-even both in :func:`affinity_score` and :func:`affinity_scores`, and
both work in float64, so the scalar reference and the matrix agree exactly.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AffinityWeights:
    """Relative weight of integration-area overlap and text similarity; ``scale`` is the
    integer an ideal match scores."""

    areas: float = 0.5
    text: float = 0.5
    scale: int = 1000

    def __post_init__(self):
        if self.areas < 0 or self.text < 0 or self.areas + self.text <= 0:
            raise ValueError("affinity weights must be >= 0 and not both 0")
        # int16 holds the affinity matrix of a 10k x 6k instance in ~115 MB
        if not 1 <= self.scale <= 30_000:
            raise ValueError("affinity scale must be within 1..30000")


def proposal_text(abstract: str) -> str:
    """The text of a proposal that is compared with experts' keywords."""
    return abstract


def expert_text(keywords: Sequence[str]) -> str:
    """The text of an expert's profile: the keywords, one phrase after another."""
    return " ; ".join(keywords)


def area_overlap(proposal_areas: Sequence[str], expert_areas: Sequence[str]) -> float:
    """Share of the proposal's integration areas that the expert covers (0..1)."""
    wanted = set(proposal_areas)
    if not wanted:
        return 0.0
    return len(wanted & set(expert_areas)) / len(wanted)


def _coefficients(weights: AffinityWeights) -> tuple[float, float]:
    total = weights.areas + weights.text
    return weights.scale * weights.areas / total, weights.scale * weights.text / total


def affinity_score(area: float, text: float, weights: AffinityWeights) -> int:
    """The integer affinity of one pair from its two signals (the reference form)."""
    text = min(max(float(text), 0.0), 1.0)  # cosine may exceed 1 by rounding error
    for_area, for_text = _coefficients(weights)
    return int(round(for_area * float(area) + for_text * text))


def affinity_scores(area: np.ndarray, text: np.ndarray, weights: AffinityWeights) -> np.ndarray:
    """:func:`affinity_score` over whole arrays of pairs; returns int16.

    Works in place on its (float64) arguments: the solver passes fresh temporaries, and
    at 57 million pairs every extra pass over memory costs a tenth of a second. Same
    operations in the same order as the scalar form, so results agree bit for bit.
    """
    for_area, for_text = _coefficients(weights)
    np.clip(text, 0.0, 1.0, out=text)
    text *= for_text
    area *= for_area
    area += text
    np.rint(area, out=area)
    return area.astype(np.int16)


class AreaIndex:
    """Integration areas as 0/1 matrices, so overlaps of many pairs are one product.

    Built once per problem; ``overlap(rows, cols)`` gives the ``area`` signal for every
    proposal in ``rows`` against every expert in ``cols``. Calls have a handful of
    integration areas, so proposals and experts share few distinct area *sets*: the
    overlap of every pair of sets is tabulated once (``share``) and a block of pairs is a
    gather from that table, not a product (bit-equal: the same division of the same
    integers).
    """

    _TABLE_LIMIT = 16_000_000  # set pairs tabulated at most (128 MB); beyond: products

    def __init__(self, proposal_areas: Sequence[Sequence[str]],
                 expert_areas: Sequence[Sequence[str]]):
        labels = sorted({a for areas in proposal_areas for a in areas})
        column = {label: i for i, label in enumerate(labels)}
        self._proposals = _one_hot(proposal_areas, column)
        # areas only experts know cannot overlap any proposal: drop them
        self._experts = _one_hot(expert_areas, column)
        # a proposal without areas overlaps nothing; dividing by 1 keeps its 0
        self._count = np.maximum(self._proposals.sum(axis=1), 1.0)
        p_sets, self._p_set = np.unique(self._proposals, axis=0, return_inverse=True)
        e_sets, self._e_set = np.unique(self._experts, axis=0, return_inverse=True)
        self._p_set, self._e_set = self._p_set.ravel(), self._e_set.ravel()
        self._share = None
        if len(p_sets) * len(e_sets) <= self._TABLE_LIMIT:
            self._share = p_sets @ e_sets.T
            self._share /= np.maximum(p_sets.sum(axis=1), 1.0)[:, None]

    def overlap(self, rows: np.ndarray, cols: np.ndarray, transposed: bool = False) -> np.ndarray:
        """Dense ``len(rows) x len(cols)`` float64 matrix of :func:`area_overlap`
        (``len(cols) x len(rows)`` with ``transposed``, to match an expert-major layout)."""
        if self._share is not None:
            shared = self._share[self._p_set[rows]][:, self._e_set[cols]]
            return np.ascontiguousarray(shared.T) if transposed else shared
        # divide rather than multiply by 1/count: bit-equal to len(a & b) / len(a)
        if transposed:
            shared = self._experts[cols] @ self._proposals[rows].T
            shared /= self._count[None, rows]
        else:
            shared = self._proposals[rows] @ self._experts[cols].T
            shared /= self._count[rows, None]
        return shared

    def scores(self, rows: np.ndarray, cols: np.ndarray, weights: AffinityWeights) -> np.ndarray:
        """int16 ``len(rows) x len(cols)`` affinities of pairs without text similarity:
        :func:`affinity_scores` of the area signal alone, tabulated per set pair."""
        if self._share is not None:
            table = affinity_scores(self._share.copy(), np.zeros_like(self._share), weights)
            # np.take keeps the result C-ordered (a[:, idx] may not), which callers
            # writing through ravel() rely on
            return np.take(table[self._p_set[rows]], self._e_set[cols], axis=1)
        area = self.overlap(rows, cols)
        return affinity_scores(area, np.zeros_like(area), weights)

    def pair_overlap(self, rows: np.ndarray, cols: np.ndarray, at_rows: np.ndarray | None = None,
                     at_cols: np.ndarray | None = None) -> np.ndarray:
        """:func:`area_overlap` for the pairs ``(rows[i], cols[i])``, or with ``at_rows``
        and ``at_cols`` for the pairs ``(rows[at_rows[i]], cols[at_cols[i]])`` (a sparse
        set of a block's pairs, without building the position arrays)."""
        if self._share is not None:
            p_set, e_set = self._p_set[rows], self._e_set[cols]
            if at_rows is not None:
                p_set, e_set = p_set[at_rows], e_set[at_cols]
            flat = p_set.astype(np.int64)  # flat: cheaper than a 2-D gather
            flat *= self._share.shape[1]
            flat += e_set
            return self._share.ravel()[flat]
        if at_rows is not None:
            rows, cols = rows[at_rows], cols[at_cols]
        shared = np.einsum("ij,ij->i", self._proposals[rows], self._experts[cols])
        return shared / self._count[rows]


def _one_hot(area_lists: Sequence[Sequence[str]], column: dict[str, int]) -> np.ndarray:
    matrix = np.zeros((len(area_lists), max(len(column), 1)), dtype=np.float64)
    for row, areas in enumerate(area_lists):
        for area in set(areas):
            if area in column:
                matrix[row, column[area]] = 1.0
    return matrix


class ImportedScores:
    """Affinity scores from outside (operations' import of OpenReview/TPMS scores, or a
    benchmark instance file), each in [0, 1]. For its pairs an imported score takes the
    place of the TF-IDF text similarity; the integration-area signal still counts with
    its weight.

    Either sparse, ``(expert_id, proposal_id) -> score`` (:meth:`of`), or one dense
    proposals x experts matrix (:meth:`dense`), which covers every pair and spares the
    solver the TF-IDF model altogether.
    """

    def __init__(self, proposal_ids: Sequence[str], expert_ids: Sequence[str],
                 rows: np.ndarray, cols: np.ndarray, scores: np.ndarray,
                 matrix: np.ndarray | None = None):
        self.proposal_ids, self.expert_ids = tuple(proposal_ids), tuple(expert_ids)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.matrix = matrix
        values = self.scores if matrix is None else matrix
        if values.size and not (np.isfinite(values).all() and values.min() >= 0
                                and values.max() <= 1):
            raise ValueError("imported affinity scores must lie within [0, 1]")

    @classmethod
    def of(cls, scores: Mapping[tuple[str, str], float]) -> "ImportedScores":
        """From ``{(expert_id, proposal_id): score}``."""
        pairs = sorted(scores)
        experts = sorted({e for e, _ in pairs})
        proposals = sorted({p for _, p in pairs})
        e_pos = {e: i for i, e in enumerate(experts)}
        p_pos = {p: i for i, p in enumerate(proposals)}
        return cls(proposals, experts, [p_pos[p] for _, p in pairs],
                   [e_pos[e] for e, _ in pairs], [float(scores[pair]) for pair in pairs])

    @classmethod
    def dense(cls, proposal_ids: Sequence[str], expert_ids: Sequence[str],
              matrix: np.ndarray) -> "ImportedScores":
        """Every pair's score: ``matrix[i, j]`` is that of proposal_ids[i], expert_ids[j]."""
        matrix = np.asarray(matrix)
        if matrix.shape != (len(proposal_ids), len(expert_ids)):
            raise ValueError(f"matrix shape {matrix.shape} is not proposals x experts "
                             f"({len(proposal_ids)} x {len(expert_ids)})")
        empty = np.zeros(0, dtype=np.int64)
        return cls(proposal_ids, expert_ids, empty, empty, empty.astype(np.float64), matrix)

    def __len__(self) -> int:
        return int(self.matrix.size if self.matrix is not None else self.scores.size)

    def items(self) -> list[tuple[tuple[str, str], float]]:
        """``((expert_id, proposal_id), score)`` of a sparse import, in order."""
        return [((self.expert_ids[c], self.proposal_ids[r]), s) for r, c, s in
                zip(self.rows.tolist(), self.cols.tolist(), self.scores.tolist())]

    def restrict(self, proposal_ids) -> "ImportedScores":
        """The scores of the given proposals only (a dense import stays whole)."""
        if self.matrix is not None:
            return self
        wanted = set(proposal_ids)
        keep = np.array([self.proposal_ids[r] in wanted for r in self.rows.tolist()],
                        dtype=bool)
        return ImportedScores(self.proposal_ids, self.expert_ids, self.rows[keep],
                              self.cols[keep], self.scores[keep])

    def dense_for(self, proposal_ids: Sequence[str],
                  expert_ids: Sequence[str]) -> np.ndarray | None:
        """The dense matrix in the given orders, if this import is dense and covers them."""
        if self.matrix is None:
            return None
        p_pos = {p: i for i, p in enumerate(self.proposal_ids)}
        e_pos = {e: j for j, e in enumerate(self.expert_ids)}
        if not all(p in p_pos for p in proposal_ids) or not all(e in e_pos for e in expert_ids):
            raise ValueError("a dense import must cover every proposal and expert")
        rows = [p_pos[p] for p in proposal_ids]
        cols = [e_pos[e] for e in expert_ids]
        if rows == list(range(len(self.proposal_ids))) and cols == list(range(len(self.expert_ids))):
            return self.matrix
        return self.matrix[np.ix_(rows, cols)]

    def positions(self, proposal_ids: Sequence[str],
                  expert_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, scores)`` of a sparse import in the given orders; pairs naming
        someone not in them are left out."""
        p_pos = {p: i for i, p in enumerate(proposal_ids)}
        e_pos = {e: j for j, e in enumerate(expert_ids)}
        p_map = np.array([p_pos.get(p, -1) for p in self.proposal_ids], dtype=np.int64)
        e_map = np.array([e_pos.get(e, -1) for e in self.expert_ids], dtype=np.int64)
        rows = p_map[self.rows] if len(self.rows) else self.rows
        cols = e_map[self.cols] if len(self.cols) else self.cols
        known = (rows >= 0) & (cols >= 0)
        return rows[known], cols[known], self.scores[known]


# ------------------------------------------------------------------------ imports
AFFINITY_COLUMNS = ("expert_id", "proposal_id", "score")
MAX_IMPORTED_ROWS = 200_000  # per file; several files may be imported one after another


@dataclass(frozen=True)
class AffinityIssue:
    """One problem of an affinity file: ``line`` (1 is the header; None for the file),
    ``field`` (a column, or None for the whole line) and the ``rule`` broken."""

    line: int | None
    field: str | None
    rule: str

    def __str__(self) -> str:
        where = "the file" if self.line is None else f"line {self.line}"
        return f"{where}: {self.field + ' ' if self.field else ''}{self.rule}"


@dataclass(frozen=True)
class AffinityFile:
    """A parsed affinity file: the scores, or every issue found (then no score counts)."""

    scores: dict[tuple[str, str], float]
    issues: tuple[AffinityIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


def parse_affinity_csv(text: str, experts: Collection[str], proposals: Collection[str],
                       max_rows: int = MAX_IMPORTED_ROWS) -> AffinityFile:
    """Read an affinity file (CSV with the header ``expert_id,proposal_id,score``, any
    column order): every row names a known expert and a proposal in evaluation, and a
    score in [0, 1]; a pair appears once. Every problem is reported with its line."""
    import csv
    import io

    try:
        lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))  # Excel writes a BOM
    except csv.Error as exc:
        return AffinityFile({}, (AffinityIssue(None, None, f"is not valid CSV: {exc}"),))
    header = [h.strip() for h in lines[0]] if lines else []
    if not any(header):
        return AffinityFile({}, (AffinityIssue(None, None, "is empty: a header row "
                                               "expert_id,proposal_id,score is required"),))
    problems = [AffinityIssue(1, name or "(blank)", "is not a column of an affinity file "
                              f"({', '.join(AFFINITY_COLUMNS)})")
                for name in header if name not in AFFINITY_COLUMNS]
    problems += [AffinityIssue(1, name, "column is missing") for name in AFFINITY_COLUMNS
                 if name not in header]
    problems += [AffinityIssue(1, name, "column appears twice") for name in AFFINITY_COLUMNS
                 if header.count(name) > 1]
    if problems:
        return AffinityFile({}, tuple(problems))
    rows = [(number, cells) for number, cells in enumerate(lines[1:], start=2)
            if any(c.strip() for c in cells)]  # blank lines skipped, still counted
    if len(rows) > max_rows:
        return AffinityFile({}, (AffinityIssue(None, None, f"has {len(rows)} rows, at most "
                                               f"{max_rows} per import (split the file)"),))
    at = {name: header.index(name) for name in AFFINITY_COLUMNS}
    scores: dict[tuple[str, str], float] = {}
    first_line: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        if len(cells) != len(header):
            problems.append(AffinityIssue(number, None, f"has {len(cells)} cells, the header "
                                                        f"{len(header)}"))
            continue
        expert_id, proposal_id = cells[at["expert_id"]].strip(), cells[at["proposal_id"]].strip()
        found = [AffinityIssue(number, "expert_id", "is required") if not expert_id else
                 None if expert_id in experts else
                 AffinityIssue(number, "expert_id", f"{expert_id!r} is not an expert of the pool"),
                 AffinityIssue(number, "proposal_id", "is required") if not proposal_id else
                 None if proposal_id in proposals else
                 AffinityIssue(number, "proposal_id", f"{proposal_id!r} is not a proposal in "
                                                      "evaluation (closed and screened)")]
        score, rule = _score(cells[at["score"]])
        found.append(None if rule is None else AffinityIssue(number, "score", rule))
        pair = (expert_id, proposal_id)
        if pair in first_line:
            found.append(AffinityIssue(number, None, f"repeats the pair of line "
                                                     f"{first_line[pair]}"))
        found = [issue for issue in found if issue is not None]
        problems += found
        if not found:
            scores[pair], first_line[pair] = score, number
    return AffinityFile({} if problems else scores, tuple(problems))


def _score(cell: str) -> tuple[float | None, str | None]:
    text = cell.strip()
    if not text:
        return None, "is required"
    try:
        value = float(text)
    except ValueError:
        return None, f"{text!r} is not a number"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None, f"{text} is not within [0, 1]"
    return value, None
