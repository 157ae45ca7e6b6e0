"""The assignment's write step on both databases the service runs on: every pair of a run
in one INSERT ... ON CONFLICT DO UPDATE (multi-row), the proposals' targets in one batch
of UPDATEs, and a pair released before made active again by the same statement."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from services.evaluation.handlers import assigning
from tests.support.infra import postgres_databases
from tests.support.plans import sent_by, starting
from tests.unit.evaluation.handler_support import OPS

pytestmark = pytest.mark.integration

PROPOSALS = [f"P-{i}" for i in range(1, 13)]


def test_a_topics_first_assignment_writes_its_pairs_and_targets_in_one_statement_each(h):
    seen = sent_by(h.factory.engine, lambda: h.open_topic(PROPOSALS, experts_=12))
    pairs = h.rows("SELECT proposal_id, expert_id, topic_id, status, reason, assigned_at, "
                   "due_at, released_at, release_reason, note FROM assignments")
    [(k,)] = h.rows("SELECT DISTINCT target_evaluators FROM proposals")
    assert k >= 2 and Counter(p.proposal_id for p in pairs) == {p: k for p in PROPOSALS}
    assert {(p.status, p.reason, p.released_at, p.release_reason, p.note) for p in pairs} == {
        ("active", "initial", None, None, None)}
    # each pair as its evaluator_assigned event says
    events = {(e["proposal_id"], e["expert_id"]): e for e in h.outbox("evaluator_assigned")}
    assert set(events) == {(p.proposal_id, p.expert_id) for p in pairs}
    assert {p.topic_id for p in pairs} == {e["topic_id"] for e in events.values()}
    # one statement for the pairs (no look for each pair first), one batch of targets
    assert starting(seen, "INSERT INTO assignments ") == 1
    assert starting(seen, "UPDATE proposals SET target_evaluators") == 1
    assert not [s for s in seen if s.startswith("SELECT") and "FROM assignments" in s
                and "assignments.expert_id = " in s]


def test_an_override_makes_a_released_pair_active_again_with_the_new_values(h):
    h.open_topic(["P-1"], experts_=4)
    current = sorted(h.experts_of("P-1"))
    spare = sorted({"E-1", "E-2", "E-3", "E-4"} - set(current))[0]
    assigning.override(h.uow(), h.solver, h.clock, "P-1", {
        "release": [current[0]], "assign": [spare], "reason": "language skills"}, OPS.email)
    h.clock.advance(days=1)
    assigning.override(h.uow(), h.solver, h.clock, "P-1", {
        "release": [spare], "assign": [current[0]], "reason": "back after all"}, OPS.email)

    assert h.experts_of("P-1") == set(current)
    [back] = h.rows("SELECT status, reason, assigned_at, released_at, release_reason, note "
                    "FROM assignments WHERE expert_id = :e", e=current[0])
    assert (back.status, back.reason, back.released_at, back.release_reason, back.note) == (
        "active", "repair", None, None, "back after all")
    assert str(back.assigned_at)[:10] == h.clock.now().date().isoformat()
    assert h.rows("SELECT count(*) FROM assignments WHERE proposal_id = 'P-1'") == [
        (len(current) + 1,)]


def test_the_same_pair_twice_in_a_write_keeps_the_later_values(h):
    from services.evaluation.adapters import repository as repo

    h.open_topic(["P-1"], experts_=4)
    spare = sorted({"E-1", "E-2", "E-3", "E-4"} - h.experts_of("P-1"))[0]
    now = h.clock.now()
    first, later = (repo.assignment_values(proposal_id="P-1", expert_id=spare,
                                           topic_id="T-X", reason=reason, now=now,
                                           due_at=now, note=note)
                    for reason, note in (("repair", "first"), ("extra", "later")))
    uow = h.uow()
    with uow:
        repo.add_assignments(uow, [first, later])
        uow.commit()
    assert h.rows("SELECT reason, note FROM assignments WHERE expert_id = :e", e=spare) == [
        ("extra", "later")]


def test_the_write_bench_times_both_forms_and_drops_its_database(capsys):
    from bench import assignment_write

    assert assignment_write.main(["--proposals", "20", "--experts", "10", "--rounds", "1"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["proposals"], report["pairs"]) == (20, 60)
    assert set(report["deadline"]) == {"manifest_seconds", "screenings_seconds"}
    for form in ("replaced", "service"):  # each round checked it wrote all 60 pairs
        assert report[form]["seconds"] > 0 and report[form]["cpu_us_per_pair"] > 0
    assert postgres_databases("gf_assignment_write_") == set()
