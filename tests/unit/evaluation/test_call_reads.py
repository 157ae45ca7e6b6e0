"""A transaction reads a call's version once; the next transaction reads it again, so an
amendment stored meanwhile is seen."""
import sqlalchemy as sa

from services.evaluation.adapters import repository as repo
from services.evaluation.handlers import events
from tests.support.evaluation_events import CALL_ID, call_published


def version_reads(h, run) -> int:
    seen = []

    def count(conn, cursor, statement, *args):
        if statement.startswith("SELECT calls.version"):
            seen.append(statement)
    sa.event.listen(h.factory.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        sa.event.remove(h.factory.engine, "before_cursor_execute", count)
    return len(seen)


def test_a_transaction_reads_the_calls_version_once_and_the_next_reads_it_again(h):
    h.deliver(call_published(version=1))
    uow = h.uow()

    def twice_in_one_transaction():
        with uow:
            assert repo.load_call(uow, CALL_ID).version == 1
            assert repo.load_call(uow, CALL_ID).version == 1
    assert version_reads(h, twice_in_one_transaction) == 1

    h.deliver(call_published(version=2))  # an amendment, in a transaction of its own
    seen = []

    def commit_then_read():
        with uow:
            seen.append(repo.load_call(uow, CALL_ID).version)
            uow.commit()  # the transaction ends: what it read is forgotten
            seen.append(repo.load_call(uow, CALL_ID).version)
    assert version_reads(h, commit_then_read) == 2
    assert seen == [2, 2]


def test_a_call_stored_in_the_transaction_is_the_one_it_reads(h):
    h.deliver(call_published(version=1))
    uow = h.uow()
    with uow:
        assert repo.load_call(uow, CALL_ID).version == 1
        events.on_call_published(uow, call_published(version=2), h.clock.now())
        assert repo.load_call(uow, CALL_ID).version == 2
