"""The repository's filtered reads, built once per shape of filter (a list of proposals, an
expert, both or neither), return what the same filter over the table's rows returns, in
the documented order: an empty list of proposals matches nothing, a missing filter
everything."""
import pytest

from services.evaluation.adapters import repository as repo
from services.evaluation.handlers import evaluators
from tests.unit.evaluation.handler_support import OPS, evaluator, scores

PROPOSALS = ["P-1", "P-2", "P-3"]


@pytest.fixture
def assigned(h):
    h.open_topic(PROPOSALS)
    spare = ({f"E-{i}" for i in range(1, 7)} - h.experts_of("P-1")).pop()
    for pid in ("P-1", "P-2"):
        evaluators.declare_by_ops(h.uow(), h.solver, h.clock, {
            "expert_id": spare, "proposal_id": pid, "reason": "co-author of the coordinator"},
            OPS.email)
    first = sorted(h.experts_of("P-1"))[0]
    evaluators.save_report(h.uow(), h.clock, evaluator(first), "P-1",
                           scores((27, 18, 13, 13, 17)), "individual")
    return h, spare, first


def shapes(expert_id):
    """Every shape of filter the reads take."""
    return [dict(), dict(proposal_ids=[]), dict(proposal_ids=["P-1"]),
            dict(proposal_ids=["P-3", "P-1"]), dict(expert_id=expert_id),
            dict(proposal_ids=["P-1", "P-2"], expert_id=expert_id),
            dict(proposal_ids=[], expert_id=expert_id), dict(expert_id="E-404")]


def matches(row, proposal_ids=None, expert_id=None) -> bool:
    return ((proposal_ids is None or row.proposal_id in proposal_ids)
            and (expert_id is None or row.expert_id == expert_id))


def given(shape: dict) -> dict:
    """The filter as a caller may pass it: the proposals as any iterable."""
    return {**shape, **({"proposal_ids": iter(shape["proposal_ids"])}
                        if "proposal_ids" in shape else {})}


def test_active_assignments_of_every_filter_shape_are_the_tables_own(assigned):
    h, _, expert_id = assigned
    table = h.rows("SELECT * FROM assignments WHERE status = 'active'")
    assert len({r.proposal_id for r in table}) == 3
    for shape in shapes(expert_id):
        expected = sorted((r.proposal_id, r.expert_id) for r in table if matches(r, **shape))
        with h.uow() as uow:
            read = repo.active_assignments(uow, **given(shape))
        assert [(r.proposal_id, r.expert_id) for r in read] == expected, shape


def test_declarations_of_every_filter_shape_are_the_tables_own(assigned):
    h, spare, _ = assigned
    table = h.rows("SELECT * FROM declarations")
    assert {r.proposal_id for r in table} == {"P-1", "P-2"}
    for shape in shapes(spare):
        expected = sorted((r.expert_id, r.proposal_id) for r in table if matches(r, **shape))
        with h.uow() as uow:
            read = repo.declarations_for(uow, **given(shape))
        assert sorted((d.expert_id, d.proposal_id) for d in read) == expected, shape


def test_reports_of_a_proposal_and_of_one_of_its_experts(assigned):
    h, spare, first = assigned
    with h.uow() as uow:
        assert [(r.expert_id, r.kind, r.final) for r in repo.reports_for(uow, "P-1")] == [
            (first, "individual", True)]
        assert [r.expert_id for r in repo.reports_for(uow, "P-1", first)] == [first]
        assert repo.reports_for(uow, "P-1", spare) == [] and repo.reports_for(uow, "P-2") == []
