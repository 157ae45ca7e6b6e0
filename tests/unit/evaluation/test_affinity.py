"""Affinity: the scalar definition, its vectorised form and the solver's TF-IDF matrix."""
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from services.evaluation.adapters.solver import AffinityModel
from services.evaluation.domain.affinity import (
    AffinityWeights, AreaIndex, affinity_score, affinity_scores, area_overlap, expert_text)
from services.evaluation.domain.assignment import AssignmentProblem, ProposalToAssign
from services.evaluation.domain.experts import Expert

AREAS = ["housing", "labour", "education", "health", "language", "civic"]
WORDS = ("integration housing labour market language course school health migrant "
         "refugee children women network city region employment training mentoring "
         "volunteer municipality").split()


def expert(i, areas=(), keywords=(), **kw):
    return Expert(id=f"E-{i}", name="N", email=f"e{i}@example.org", country="BE",
                  organisation_id=f"ORG-{i}", expertise_areas=tuple(areas),
                  max_load=kw.pop("max_load", 3), keywords=tuple(keywords), **kw)


def proposal(i, areas=(), abstract="", topic="T-1"):
    return ProposalToAssign(id=f"P-{i}", topic=topic, integration_areas=tuple(areas),
                            abstract=abstract)


def random_problem(seed, n_p=6, n_e=5):
    rng = random.Random(seed)
    proposals = tuple(proposal(i, rng.sample(AREAS, rng.randint(0, 3)),
                               " ".join(rng.choices(WORDS, k=rng.randint(0, 25))))
                      for i in range(n_p))
    experts = tuple(expert(j, rng.sample(AREAS, rng.randint(0, 3)),
                           rng.sample(WORDS, rng.randint(0, 5))) for j in range(n_e))
    return AssignmentProblem(proposals, experts, 1)


# ------------------------------------------------------------------ definition
def test_area_overlap_is_the_share_of_the_proposals_areas_covered():
    assert area_overlap(["housing", "labour"], ["labour", "health", "civic"]) == 0.5
    assert area_overlap(["housing"], ["housing", "labour"]) == 1.0  # broad expert: no malus
    assert area_overlap([], ["housing"]) == 0.0
    assert area_overlap(["housing"], []) == 0.0


def test_score_mixes_the_signals_by_weight_and_scales_to_integers():
    weights = AffinityWeights(areas=3, text=1, scale=1000)
    assert affinity_score(1.0, 0.0, weights) == 750
    assert affinity_score(0.0, 1.0, weights) == 250
    assert affinity_score(1.0, 1.0, weights) == 1000
    assert affinity_score(0.0, 1.0000000002, weights) == 250  # cosine rounding is clipped
    assert affinity_score(0.5, 0.5, AffinityWeights()) == 500


@pytest.mark.parametrize("bad", [dict(areas=-1), dict(areas=0, text=0), dict(scale=0),
                                 dict(scale=40_000)])
def test_weights_that_make_no_sense_are_refused(bad):
    with pytest.raises(ValueError):
        AffinityWeights(**bad)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=50),
       st.floats(0, 5), st.floats(0.01, 5), st.integers(1, 30_000))
def test_vectorised_scores_equal_the_scalar_definition(pairs, w_area, w_text, scale):
    weights = AffinityWeights(w_area, w_text, scale)
    area = np.array([a for a, _ in pairs])
    text = np.array([t for _, t in pairs])
    expected = [affinity_score(a, t, weights) for a, t in pairs]
    assert affinity_scores(area.copy(), text.copy(), weights).tolist() == expected


@given(st.integers(0, 10_000))
@settings(max_examples=30)
def test_area_index_equals_the_scalar_overlap(seed):
    rng = random.Random(seed)
    p_areas = [rng.sample(AREAS, rng.randint(0, 4)) for _ in range(5)]
    e_areas = [rng.sample(AREAS + ["only-experts"], rng.randint(0, 4)) for _ in range(4)]
    index = AreaIndex(p_areas, e_areas)
    rows, cols = np.arange(5), np.arange(4)
    expected = [[area_overlap(p, e) for e in e_areas] for p in p_areas]
    assert index.overlap(rows, cols).tolist() == expected
    assert index.overlap(rows, cols, transposed=True).T.tolist() == expected
    r, c = np.repeat(rows, 4), np.tile(cols, 5)
    assert index.pair_overlap(r, c).tolist() == [expected[i][j] for i, j in zip(r, c)]


# ------------------------------------------------------------------ the solver's matrix
@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_matrix_equals_reference_tfidf_cosine_and_area_overlap(seed):
    # imported here: scikit-learn costs every pytest-xdist worker 2 s to collect this file
    from sklearn.feature_extraction.text import TfidfVectorizer

    problem = random_problem(seed)
    # the reference: an independent TF-IDF fit and a pair-by-pair cosine in Python
    p_texts = [p.abstract for p in problem.proposals]
    e_texts = [expert_text(e.keywords) for e in problem.experts]
    try:
        fitted = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(p_texts + e_texts)
        p_vecs = fitted.transform(p_texts).toarray()
        e_vecs = fitted.transform(e_texts).toarray()
    except ValueError:  # no word at all
        p_vecs = np.zeros((len(p_texts), 1))
        e_vecs = np.zeros((len(e_texts), 1))
    expected = [[affinity_score(area_overlap(p.integration_areas, e.expertise_areas),
                                float(p_vecs[i] @ e_vecs[j]), problem.weights)
                 for j, e in enumerate(problem.experts)]
                for i, p in enumerate(problem.proposals)]
    model = AffinityModel(problem)
    rows, cols = np.arange(len(problem.proposals)), np.arange(len(problem.experts))
    matrix = model.block(rows, cols)
    # exact: the sums differ in order only, which moves a score only if it lies within
    # an ulp of x.5 (never seen in 45,000 pairs)
    assert matrix.tolist() == expected
    r, c = np.repeat(rows, len(cols)), np.tile(cols, len(rows))
    assert model.pairs(r, c).tolist() == matrix[r, c].tolist()


def test_matching_keywords_and_areas_score_higher_and_scores_stay_in_range():
    problem = AssignmentProblem(
        (proposal(0, ["housing", "labour"], "affordable housing for refugee families in cities"),),
        (expert(0, ["housing", "labour"], ["affordable housing", "refugee families"]),
         expert(1, ["housing"], ["affordable housing"]),
         expert(2, ["health"], ["mental health", "trauma"]),
         expert(3)), 1)
    scores = AffinityModel(problem).block(np.arange(1), np.arange(4))[0].tolist()
    assert scores[0] > scores[1] > scores[2] == scores[3] == 0
    assert all(0 <= s <= 1000 for s in scores)


def test_matrix_is_deterministic_and_follows_the_column_order():
    problem = random_problem(3, n_p=8, n_e=7)
    rows, cols = np.arange(8), np.arange(7)
    first = AffinityModel(problem).block(rows, cols)
    assert (AffinityModel(problem).block(rows, cols) == first).all()
    shuffled = np.array([4, 0, 6, 2, 1, 5, 3])
    assert (AffinityModel(problem).block(rows[::-1], shuffled) == first[::-1][:, shuffled]).all()


def test_chunked_computation_equals_one_block(monkeypatch):
    from services.evaluation.adapters.solver import limits
    problem = random_problem(11, n_p=9, n_e=4)
    rows, cols = np.arange(9), np.arange(4)
    whole = AffinityModel(problem).block(rows, cols)
    monkeypatch.setattr(limits, "ROWS_PER_CHUNK", 2)
    assert (AffinityModel(problem).block(rows, cols) == whole).all()


def test_no_text_anywhere_leaves_the_area_signal():
    problem = AssignmentProblem((proposal(0, ["housing"]),),
                                (expert(0, ["housing"]), expert(1, ["civic"])), 1)
    assert AffinityModel(problem).block(np.arange(1), np.arange(2)).tolist() == [[500, 0]]


def test_the_proposals_side_keeps_only_terms_some_expert_uses():
    # a term no expert uses multiplies by 0 in every similarity; at 100,000 synthetic
    # proposals they were a third of what the model holds through the solve
    problem = AssignmentProblem(
        (proposal(0, ["housing"], "affordable housing for refugee families in cities"),
         proposal(1, ["labour"], "labour market mentoring by volunteers")),
        (expert(0, ["housing"], ["affordable housing"]), expert(1, ["labour"], ["mentoring"])), 1)
    model = AffinityModel(problem)
    # affordable, housing, mentoring: the experts' words, not the proposals' others
    assert model._p.shape[1] == model._e.shape[1] == 3
    rows, cols = np.arange(2), np.arange(2)
    scores = model.block(rows, cols)
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]
