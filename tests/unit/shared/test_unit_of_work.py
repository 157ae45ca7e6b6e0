"""The unit of work's guarantees on a real (SQLite) database: events go to the outbox in
the state change's transaction, and an event is consumed at most once per consumer."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from shared.db.uow import NestedCommit
from shared.events import TimetableStageReached
from shared.messaging.tables import processed_events
from tests.support.uow import UowFactory

NOW = datetime(2019, 1, 31, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def uows(tmp_path):
    return UowFactory("services.operations:migrations", tmp_path / "db.sqlite", "operations")


def stage(name="evaluation_start") -> TimetableStageReached:
    return TimetableStageReached(call_id="C", correlation_id="C", occurred_at=NOW, stage=name,
                                 label=name, at=NOW, call_version=1)


def announce(uow, event):
    """A handler whose effect is an event of its own (so the outbox shows each effect)."""
    uow.add_events(stage(f"after-{event.stage}"))


def processed(uows) -> int:
    with uows.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(processed_events)).scalar()


def test_events_reach_the_outbox_only_with_the_commit(uows):
    with uows() as uow:
        uow.add_events(stage())
    assert uows.outbox() == []  # left without commit: rolled back, nothing to publish
    with uows() as uow:
        uow.add_events(stage())
        uow.commit()
    assert [e["stage"] for e in uows.outbox()] == ["evaluation_start"]


def test_consume_applies_an_event_once_per_consumer(uows):
    event = stage()
    uows("ops.a").consume(event, announce)
    uows("ops.a").consume(event, announce)  # redelivered
    uows("ops.b").consume(event, announce)  # another consumer has its own record
    assert [e["stage"] for e in uows.outbox()] == ["after-evaluation_start"] * 2
    assert processed(uows) == 2


def test_a_failing_handler_leaves_no_effect_and_no_record(uows):
    def fails(uow, event):
        announce(uow, event)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        uows("ops.a").consume(stage(), fails)
    assert uows.outbox() == [] and processed(uows) == 0


def test_a_consuming_handler_may_not_commit_on_its_own(uows):
    def commits(uow, event):
        uow.commit()

    with pytest.raises(NestedCommit):
        uows("ops.a").consume(stage(), commits)
    assert processed(uows) == 0


def test_a_batch_applies_the_new_events_once_in_one_transaction(uows):
    first, second = stage("a"), stage("b")
    uows("ops.a").consume(first, announce)
    prepared = []
    applied = uows("ops.a").consume_batch([first, second, second], announce,
                                          prepare=lambda uow, fresh: prepared.append(fresh))
    assert applied == 1
    assert prepared == [[second]]  # already processed and repeated events are left out
    assert sorted(e["stage"] for e in uows.outbox()) == ["after-a", "after-b"]


def test_a_failing_batch_rolls_back_every_event_of_it(uows):
    def fails_on_b(uow, event):
        announce(uow, event)
        if event.stage == "b":
            raise RuntimeError("b is broken")

    with pytest.raises(RuntimeError):
        uows("ops.a").consume_batch([stage("a"), stage("b")], fails_on_b)
    assert uows.outbox() == [] and processed(uows) == 0


def test_a_savepoint_that_fails_leaves_the_rest_of_the_transaction(uows):
    """``session.begin_nested()`` (the sign-in tokens record their use under one)."""
    event = stage()
    with uows() as uow:
        uow.add_events(stage("kept"))
        uow.session.execute(processed_events.insert().values(
            consumer="c", event_id=event.event_id, event_type="x", processed_at=NOW))
        with pytest.raises(sa.exc.IntegrityError):
            with uow.session.begin_nested():
                uow.session.execute(processed_events.insert().values(
                    consumer="c", event_id=event.event_id, event_type="x", processed_at=NOW))
        uow.commit()
    assert [e["stage"] for e in uows.outbox()] == ["kept"] and processed(uows) == 1
