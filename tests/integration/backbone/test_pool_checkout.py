"""A pooled PostgreSQL connection is checked when it is taken from the pool by looking at
its socket (shared/db/engine.py): a live one is kept without a query, one the server
ended is replaced before a transaction uses it."""
import json

import pytest
import sqlalchemy as sa

from shared.db.engine import create_service_engine
from tests.support.infra import eventually, postgres_databases

pytestmark = pytest.mark.integration


def backend(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()


def running(admin, pid: int) -> bool:
    with admin.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                            {"p": pid}).scalar() > 0


def test_a_live_connection_is_kept_without_a_round_trip_and_an_ended_one_replaced(
        databases, monkeypatch):
    engine = create_service_engine(databases.url("pool"), pool_size=1, max_overflow=0)
    pings = []

    def counted_ping(dbapi_connection):
        pings.append(dbapi_connection)
        return True

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    admin = databases.engine("pool")
    try:
        first = backend(engine)
        # the same connection for every transaction, and no SELECT 1 before each
        assert [backend(engine) for _ in range(5)] == [first] * 5
        assert pings == []
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        eventually(lambda: not running(admin, first), message="the backend has ended")
        # the pool replaces it at checkout: the transaction runs, on a new backend
        replaced = backend(engine)
        assert replaced != first
        assert backend(engine) == replaced
    finally:
        engine.dispose()
        admin.dispose()


def test_the_checkout_bench_measures_the_three_ways_and_drops_its_database(capsys):
    from bench import pool_checkout

    assert pool_checkout.main(["--transactions", "20", "--rounds", "1"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["median_per_transaction"]) == {"select_1", "socket", "none"}
    for figures in report["median_per_transaction"].values():
        assert set(figures) == {"wall_us", "client_cpu_us", "backend_cpu_us"}
        assert figures["wall_us"] > 0
    assert postgres_databases("gf_pool_checkout_") == set()
