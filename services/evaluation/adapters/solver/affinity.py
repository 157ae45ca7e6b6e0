"""The affinity of every proposal-expert pair, computed a block of proposals at a time
(TF-IDF of the texts, the areas, the imported scores), never held whole."""
from __future__ import annotations

import importlib

import numpy as np
from scipy.sparse import csr_matrix

from services.evaluation.domain.affinity import (
    AreaIndex, affinity_scores, expert_text, proposal_text)
from services.evaluation.domain.assignment import AssignmentProblem
from services.evaluation.adapters.solver import limits


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
        for start in range(0, len(rows), limits.ROWS_PER_CHUNK):
            chunk = rows[start:start + limits.ROWS_PER_CHUNK]
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
