"""The benchmarks' stand-in for autovacuum (bench/autovacuum.py) on the real PostgreSQL:
it takes a table of the run's databases once autovacuum's own rule says so (dead rows over
the threshold, or rows changed since the last analysis), leaves the others, honours a
table's storage parameters, and never touches a database outside the run's prefix."""
import uuid

import pytest
import sqlalchemy as sa

from bench.autovacuum import Autovacuum, Rule
from shared.db.engine import drop_postgres_databases, normalise_url
from tests.support.infra import PG_URL, eventually

pytestmark = [pytest.mark.integration]


def stats(engine, table: str):
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return conn.execute(sa.text(
            "SELECT n_dead_tup, n_mod_since_analyze, vacuum_count, analyze_count "
            "FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}).one()


@pytest.fixture
def databases():
    prefix = f"gft_av{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalise_url(PG_URL + "/postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        for name in (f"{prefix}_grants", f"{prefix}x_other"):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engines = {name: sa.create_engine(normalise_url(f"{PG_URL}/{prefix}{name}"),
                                      poolclass=sa.pool.NullPool)
               for name in ("_grants", "x_other")}
    yield prefix, engines
    for engine in engines.values():
        engine.dispose()
    drop_postgres_databases(PG_URL, f"{prefix}%")


def churn(engine, table: str, rows: int, options: str = "") -> None:
    """``rows`` rows inserted, then every one updated: ``rows`` dead rows."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, n int) {options}"))
        conn.execute(sa.text(f"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, {rows}) g"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET n = 1"))


def test_the_tables_autovacuum_would_take_and_no_others(databases):
    prefix, engines = databases
    ours, other = engines["_grants"], engines["x_other"]
    churn(ours, "churned", 2000)  # 2,000 dead of 2,000 live: over 50 + 0.2 x 2,000
    churn(ours, "tuned", 40, "WITH (autovacuum_vacuum_threshold = 10, "
                             "autovacuum_vacuum_scale_factor = 0)")  # 40 dead: over 10
    churn(ours, "quiet", 40)  # 40 dead: under 50 + 0.2 x 40, and 80 changed: over 50 + 4
    churn(other, "churned", 2000)  # "gft_avXXXXXXXXx_other": not "{prefix}_..."

    # a closed session's counts reach the statistics as its backend exits: wait for them
    eventually(lambda: stats(ours, "churned").n_dead_tup == 2000
               and stats(ours, "quiet").n_mod_since_analyze == 80
               and stats(other, "churned").n_dead_tup == 2000, message="statistics")
    worker = Autovacuum(PG_URL, prefix, naptime=3600)
    try:
        assert worker.round() == 3
    finally:
        worker.stop()

    assert stats(ours, "churned").vacuum_count == 1 and stats(ours, "churned").n_dead_tup == 0
    assert stats(ours, "tuned").vacuum_count == 1  # its own threshold, not the server's
    assert stats(ours, "quiet").vacuum_count == 0 and stats(ours, "quiet").analyze_count == 1
    assert stats(other, "churned").vacuum_count == 0
    report = worker.report()
    assert (report["vacuums"], report["analyzes"]) == (2, 1)
    assert report["most_taken"] == {"grants.churned": 1, "grants.tuned": 1, "grants.quiet": 1}
    with other.connect() as conn:
        server = conn.execute(sa.text("SHOW autovacuum")).scalar()
    assert report["server_autovacuum"] == server and report["emulated"] == (server != "on")


def test_autovacuums_rule():
    rule = Rule(vacuum_threshold=50, vacuum_scale=0.2, analyze_threshold=50, analyze_scale=0.1)
    assert rule.action(live=1000, dead=251, changed=0) == "VACUUM (ANALYZE)"
    assert rule.action(live=1000, dead=250, changed=151) == "ANALYZE"
    assert rule.action(live=1000, dead=250, changed=150) is None
    tuned = rule.with_options(["autovacuum_vacuum_scale_factor=0.02", "fillfactor=90"])
    assert tuned.action(live=1000, dead=71, changed=0) == "VACUUM (ANALYZE)"
    assert tuned.analyze_scale == 0.1  # not set on the table: the server's
