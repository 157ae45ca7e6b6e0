"""Batches applied in bulk (``on_events``, as the service's consumers do) give what
one-by-one gives, with a few statements per batch instead of a few per event."""
import random

import pytest
import sqlalchemy as sa

from services.operations import handlers
from shared.events import load
from tests.support.operations_scenario import (ASSIGNED, CALL_ID, T5, Builder,
                                               call_events, wire)
from tests.support.uow import UowFactory
from tests.unit.operations.conftest import Ops

CONSUMER = "operations.record_submission_events"


def _feed_in_batches(ops: Ops, events, size: int) -> None:
    for start in range(0, len(events), size):
        ops.factory(CONSUMER).consume_batch(
            [load(wire(e)) for e in events[start:start + size]],
            lambda uow, batch: handlers.on_events(uow, batch, ops.now),
            prepare=handlers.lock_calls, bulk=True)


def _state(ops: Ops) -> dict:
    report = ops.report(CALL_ID)
    summary = {k: v for k, v in report["summary"].items() if k != "generated_at"}
    return {"summary": summary, "proposals": report["proposals"],
            "loads": handlers.loads(ops.uow(), CALL_ID)}


@pytest.fixture
def other(tmp_path):
    factory = UowFactory("services.operations:migrations", tmp_path / "bulk.sqlite",
                         "operations")
    yield Ops(factory)
    factory.engine.dispose()


@pytest.mark.parametrize("size,seed", [(500, 0), (7, 1), (3, 2), (50, 3)])
def test_batches_in_any_order_with_repeats_give_the_one_by_one_projections(ops, other,
                                                                           size, seed):
    events = call_events()
    ops.feed(*events)  # one by one, in order
    shuffled = events + random.Random(seed).sample(events, k=len(events) // 3)
    random.Random(seed).shuffle(shuffled)

    _feed_in_batches(other, shuffled, size)

    assert _state(other) == _state(ops)


def test_a_rebuild_in_pages_gives_the_live_projections(ops):
    ops.feed(*call_events())
    before = _state(ops)
    result = handlers.rebuild(ops.uow(), CALL_ID, ops.now)
    assert result["events"] == len(call_events())
    assert _state(ops) == before


def _statements(ops: Ops, events) -> int:
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731 (statement text)
    sa.event.listen(ops.factory.engine, "before_cursor_execute", listener)
    try:
        _feed_in_batches(ops, events, len(events))
    finally:
        sa.event.remove(ops.factory.engine, "before_cursor_execute", listener)
    return len(seen)


def _assignments(b: Builder, n: int):
    return [b.assigned(f"P-{i:03d}", T5, f"E{i % 7}", ASSIGNED) for i in range(n)]


def _deliveries(b: Builder, n: int):
    cause = b.assigned("P-000", T5, "E0", ASSIGNED)
    return [b.delivered(f"P-{i:03d}", "receipt", cause) for i in range(n)]


@pytest.mark.parametrize("events_of", [_assignments, _deliveries])
def test_a_batch_costs_the_same_statements_whether_it_holds_5_or_50_events(ops, other,
                                                                           events_of):
    b = Builder()
    setup = call_events()[:2]  # the call published, a stage reached
    _feed_in_batches(ops, setup, 10)
    _feed_in_batches(other, setup, 10)

    few = _statements(ops, events_of(b, 5))
    many = _statements(other, events_of(b, 50))

    assert many == few  # per batch, not per event
    assert many <= 20
