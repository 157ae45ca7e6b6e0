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

from collections.abc import Sequence
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
    proposal in ``rows`` against every expert in ``cols``.
    """

    def __init__(self, proposal_areas: Sequence[Sequence[str]],
                 expert_areas: Sequence[Sequence[str]]):
        labels = sorted({a for areas in proposal_areas for a in areas})
        column = {label: i for i, label in enumerate(labels)}
        self._proposals = _one_hot(proposal_areas, column)
        # areas only experts know cannot overlap any proposal: drop them
        self._experts = _one_hot(expert_areas, column)
        # a proposal without areas overlaps nothing; dividing by 1 keeps its 0
        self._count = np.maximum(self._proposals.sum(axis=1), 1.0)

    def overlap(self, rows: np.ndarray, cols: np.ndarray, transposed: bool = False) -> np.ndarray:
        """Dense ``len(rows) x len(cols)`` float64 matrix of :func:`area_overlap`
        (``len(cols) x len(rows)`` with ``transposed``, to match an expert-major layout)."""
        # divide rather than multiply by 1/count: bit-equal to len(a & b) / len(a)
        if transposed:
            shared = self._experts[cols] @ self._proposals[rows].T
            shared /= self._count[None, rows]
        else:
            shared = self._proposals[rows] @ self._experts[cols].T
            shared /= self._count[rows, None]
        return shared

    def pair_overlap(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """:func:`area_overlap` for the pairs ``(rows[i], cols[i])``."""
        shared = np.einsum("ij,ij->i", self._proposals[rows], self._experts[cols])
        return shared / self._count[rows]


def _one_hot(area_lists: Sequence[Sequence[str]], column: dict[str, int]) -> np.ndarray:
    matrix = np.zeros((len(area_lists), max(len(column), 1)), dtype=np.float64)
    for row, areas in enumerate(area_lists):
        for area in set(areas):
            if area in column:
                matrix[row, column[area]] = 1.0
    return matrix
