"""What checking a pooled PostgreSQL connection costs each transaction.

A service takes a connection from its pool for every transaction (an event handled, a
request answered, a relay's poll). This bench runs the smallest transaction (one INSERT
and its commit) ``--transactions`` times on one pooled connection, three ways in turn,
``--rounds`` times: with SQLAlchemy's ``pool_pre_ping`` (a ``SELECT 1`` round trip before
each), with the services' check of the connection's socket (``shared/db/engine.py``),
and with no check. It prints, per transaction, the wall time, this process's CPU and
the PostgreSQL backend's CPU (read from /proc), each way's median over the rounds; the
last line is one JSON object. A throwaway database is created and dropped.

    python bench/pool_checkout.py [--transactions 4000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.procstat import cpu_seconds  # noqa: E402
from bench.submission_db import PG_URL  # noqa: E402
from shared.db.engine import (  # noqa: E402
    create_service_engine, drop_postgres_databases, normalise_url)


def engines(url: str) -> dict[str, sa.Engine]:
    one = {"pool_size": 1, "max_overflow": 0}
    return {"select_1": sa.create_engine(normalise_url(url), pool_pre_ping=True, **one),
            "socket": create_service_engine(url, pre_ping=True, **one),
            "none": create_service_engine(url, pre_ping=False, **one)}


def per_transaction(engine: sa.Engine, transactions: int) -> dict[str, float]:
    """Microseconds a transaction: wall, this process's CPU, the backend's CPU."""
    with engine.connect() as conn:
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    backend_before, cpu_before = cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    for n in range(transactions):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO written (n) VALUES (:n)"), {"n": n})
    wall = time.perf_counter() - started
    cpu, backend_cpu = time.process_time() - cpu_before, cpu_seconds(backend) - backend_before
    return {"wall_us": 1e6 * wall / transactions, "client_cpu_us": 1e6 * cpu / transactions,
            "backend_cpu_us": 1e6 * backend_cpu / transactions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    database = f"gf_pool_checkout_{uuid.uuid4().hex[:8]}"
    url = f"{PG_URL}/{database}"
    ways = engines(url)
    try:
        with ways["none"].begin() as conn:
            conn.execute(sa.text("CREATE TABLE written (id serial PRIMARY KEY, n int)"))
        runs: dict[str, list[dict]] = {name: [] for name in ways}
        for round_ in range(1, args.rounds + 1):
            for name, engine in ways.items():
                figures = per_transaction(engine, args.transactions)
                runs[name].append(figures)
                print(f"round {round_} {name:8s} " + "  ".join(
                    f"{key} {value:7.1f}" for key, value in figures.items()), flush=True)
    finally:
        for engine in ways.values():
            engine.dispose()
        drop_postgres_databases(PG_URL, database)
    medians = {name: {key: round(statistics.median(r[key] for r in results), 1)
                      for key in results[0]} for name, results in runs.items()}
    print(json.dumps({"transactions": args.transactions, "rounds": args.rounds,
                      "median_per_transaction": medians}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
