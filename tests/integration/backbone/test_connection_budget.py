"""The connection budget through a real service: its pool size and overflow come from the
environment (per service), however many requests wait; and pooled connections that
PostgreSQL terminated are replaced before use (pre-ping), not failed on."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from shared.db.engine import normalise_url
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def backends(stack, service: str, conn, *others) -> list[int]:
    """The service's connections (the test's own excluded)."""
    own = [conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()]
    own += [other.execute(sa.text("SELECT pg_backend_pid()")).scalar() for other in others]
    return [pid for pid in conn.execute(sa.text(
        "SELECT pid FROM pg_stat_activity WHERE datname = :db"),
        {"db": stack.databases.name(service)}).scalars() if pid not in own]


def test_pool_size_and_overflow_come_from_the_environment_and_connections_are_pinged(
        stack, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_DB_POOL_SIZE", "6")  # the per-service setting wins
    monkeypatch.setenv("GRANTFLOW_OPERATIONS_DB_POOL_SIZE", "2")
    monkeypatch.setenv("GRANTFLOW_OPERATIONS_DB_MAX_OVERFLOW", "1")
    stack.start("operations")
    health = f"{stack.url('operations')}/health"
    engine = stack.databases.engine("operations")
    try:
        # autocommit: pg_stat_activity is read once per transaction otherwise
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as probe, \
                ThreadPoolExecutor(12) as pool:
            # every /health reads the outbox: with the table locked, each request holds a
            # pooled connection until the lock goes, and the others wait for one
            locker = engine.connect()
            locker.execute(sa.text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))
            answers = [pool.submit(requests.get, health, timeout=60) for _ in range(12)]
            eventually(lambda: len(backends(stack, "operations", probe, locker)) >= 3,
                       message="the pool and its overflow in use")
            assert len(backends(stack, "operations", probe, locker)) == 3
            locker.rollback()
            locker.close()
            assert [a.result().status_code for a in answers] == [200] * 12
            eventually(lambda: len(backends(stack, "operations", probe)) <= 3,
                       message="the overflow connection closed when it was returned")

            # PostgreSQL ends every connection of the service (a restart, an operator):
            # the pool tests each one before use and reconnects; no request fails. (The
            # test is of connections the server has closed: one ended at the very moment
            # it leaves the pool fails its transaction, as one ended during it does, and
            # the client is told to retry; deploy/README.md, "Connection budget".)
            ended = backends(stack, "operations", probe)
            for pid in ended:
                probe.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            eventually(lambda: not set(ended) & set(backends(stack, "operations", probe)),
                       message="the terminated backends have ended")
            assert [requests.get(health, timeout=30).status_code for _ in range(6)] == [200] * 6
    finally:
        engine.dispose()


def test_a_database_that_refuses_connections_answers_503_with_retry_after_then_recovers(stack):
    """"too many clients", a server going down: the request is refused with 503 and
    Retry-After (clients ask again, grantflow.retry), not a 500; the next one succeeds."""
    stack.start("operations")
    calls = stack.api("operations")
    assert calls.get("/calls").status_code == 200
    database = stack.databases.name("operations")
    admin = sa.create_engine(normalise_url(stack.databases.url("operations"))
                             .set(database="postgres"),
                             isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            # no new connection to it, not even a superuser's; and end the pooled ones
            conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :db"), {"db": database})
            refused = calls.get("/calls")
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"] == "database_unavailable"
            conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        assert calls.get("/calls").status_code == 200
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    # one line for the refused request, not an "unhandled error" with its traceback (the
    # service's background loops may log their own retries meanwhile)
    log = stack.processes["operations"].log_path.read_text()
    assert "database unavailable" in log and "unhandled error" not in log
