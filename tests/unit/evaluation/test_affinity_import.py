"""Importing affinity scores: the file's rules (every bad line named with its field and
rule, nothing stored), replacement of earlier scores, the size bound, and the scores
reaching the solver (real SQLite unit of work and solver; the real-service test is in
tests/integration/evaluation/test_affinity_import.py)."""

import pytest

from services.evaluation.domain.affinity import parse_affinity_csv
from services.evaluation.handlers import affinities
from tests.support.evaluation_events import (
    call_published, deadline_closed, expert_record, screened, stage)
from tests.unit.evaluation.handler_support import OPS, refusal

EXPERTS, PROPOSALS = {"E-1", "E-2"}, {"P-1", "P-2"}


def test_a_clean_file_gives_its_scores_whatever_the_column_order():
    parsed = parse_affinity_csv("\ufeffscore,proposal_id,expert_id\n0.5,P-1,E-1\n\n1,P-2,E-2\n",
                                EXPERTS, PROPOSALS)
    assert parsed.ok and parsed.scores == {("E-1", "P-1"): 0.5, ("E-2", "P-2"): 1.0}


def test_every_bad_line_is_named_with_its_field_and_rule_and_nothing_counts():
    text = ("expert_id,proposal_id,score\nE-1,P-1,0.2\nE-9,P-1,0.5\nE-2,P-9,-0.1\n"
            "E-1,P-1,0.3\nE-2,P-2\nE-2,P-2,nan\nE-2,P-1,\n,P-2,1\n")
    parsed = parse_affinity_csv(text, EXPERTS, PROPOSALS)
    assert not parsed.ok and parsed.scores == {}
    assert [str(i) for i in parsed.issues] == [
        "line 3: expert_id 'E-9' is not an expert of the pool",
        "line 4: proposal_id 'P-9' is not a proposal in evaluation (closed and screened)",
        "line 4: score -0.1 is not within [0, 1]",
        "line 5: repeats the pair of line 2",
        "line 6: has 2 cells, the header 3",
        "line 7: score nan is not within [0, 1]",
        "line 8: score is required",
        "line 9: expert_id is required"]


@pytest.mark.parametrize("text,expected", [
    ("", "the file: is empty: a header row expert_id,proposal_id,score is required"),
    ("expert_id,proposal,score\n", "line 1: proposal is not a column of an affinity file "
                                   "(expert_id, proposal_id, score)"),
    ("expert_id,score\n", "line 1: proposal_id column is missing"),
    ("expert_id,proposal_id,score\n" + "E-1,P-1,0.1\n" * 4,
     "the file: has 4 rows, at most 3 per import (split the file)"),
])
def test_a_file_of_the_wrong_shape_is_refused(text, expected):
    parsed = parse_affinity_csv(text, EXPERTS, PROPOSALS, max_rows=3)
    assert [str(i) for i in parsed.issues][:1] == [expected]


def test_an_import_is_stored_replaces_earlier_scores_and_reaches_the_solver(h):
    h.deliver(call_published(), deadline_closed(["P-1", "P-2"]), screened("P-1"), screened("P-2"))
    h.import_experts([expert_record(1), expert_record(2),
                      expert_record(3, keywords=("astronomy",)),
                      expert_record(4, keywords=("geology",))])
    status, errors = refusal(affinities.import_affinities, h.uow(), h.clock,
                             "expert_id,proposal_id,score\nE-3,P-1,1\nE-5,P-1,1\n", OPS.email)
    assert status == 422 and errors == [{"line": 3, "field": "expert_id", "rule":
                                         "'E-5' is not an expert of the pool", "message":
                                         "line 3: expert_id 'E-5' is not an expert of the pool"}]
    assert h.rows("SELECT * FROM imported_affinities") == []  # nothing half-written

    first = affinities.import_affinities(h.uow(), h.clock, "expert_id,proposal_id,score\n"
                                         "E-3,P-1,0.2\nE-4,P-1,0.9\n", OPS.email)
    assert first == {"imported": 2, "replaced": 0, "proposals": 1, "experts": 2}
    again = affinities.import_affinities(h.uow(), h.clock, "expert_id,proposal_id,score\n"
                                         "E-3,P-1,1\nE-1,P-1,0\nE-2,P-1,0\n", OPS.email)
    assert again == {"imported": 3, "replaced": 1, "proposals": 1, "experts": 3}
    assert sorted((r.expert_id, r.score) for r in h.rows(
        "SELECT expert_id, score FROM imported_affinities")) == [
        ("E-1", 0.0), ("E-2", 0.0), ("E-3", 1.0), ("E-4", 0.9)]

    h.deliver(stage("evaluation_start"))
    h.sweep()
    assert h.experts_of("P-1") == {"E-3", "E-4"} and h.experts_of("P-2") == {"E-1", "E-2"}


def test_the_import_route_refuses_a_body_over_the_bound_before_reading_it():
    # shared.web refuses a body over the route's max_body with 413 before reading it
    # (tests/security/test_http_input.py); the import declares its own bound
    from services.evaluation.service import EvaluationService
    route = next(e for e in EvaluationService.import_affinities.nameko_entrypoints)
    assert route.max_body == affinities.MAX_BYTES