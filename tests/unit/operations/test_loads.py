"""Evaluators' loads from assignment records (domain.loads)."""
from services.operations.domain.loads import Assignment, expert_loads, later
from tests.support.operations_scenario import at

A, B = at("2019-02-01T09:00:00"), at("2019-02-03T09:00:00")


def test_current_only_when_assigned_after_the_latest_release():
    assert Assignment("E", "P", "T", assigned_at=A).current
    assert not Assignment("E", "P", "T", assigned_at=A, released_at=B).current
    assert Assignment("E", "P", "T", assigned_at=B, released_at=A).current  # reassigned
    assert not Assignment("E", "P", "T", assigned_at=A, released_at=A).current
    assert not Assignment("E", "P", "T", released_at=A).current


def test_later_keeps_the_latest_instant():
    assert later(None, A) == A and later(B, None) == B and later(A, B) == B


def test_loads_per_expert_heaviest_first():
    loads = expert_loads([
        Assignment("E2", "P1", "T1", "Two", assigned_at=A),
        Assignment("E1", "P1", "T1", "One", assigned_at=A, report_final=True),
        Assignment("E1", "P2", "T2", "One", assigned_at=A),
        Assignment("E1", "P3", "T2", "One", assigned_at=A, released_at=B)])
    assert [(e["expert_id"], e["current"], e["by_topic"], e["reports_due"], e["released"])
            for e in loads] == [("E1", 2, {"T1": 1, "T2": 1}, 1, 1),
                                ("E2", 1, {"T1": 1}, 1, 0)]
