"""This machine's speed at this hour: a fixed workload measured beside a benchmark.

The 2-core machines these benchmarks run on change speed from one hour to the next: the
same 1,000-proposal call took 96.7 s one evening and 174.7 to 193.8 s another, and the
same 10,000-proposal call spent 1,612.6 and 2,589.7 CPU-seconds. A figure compares with
one from another hour only through a reference measured beside it, in the same run:

- ``python``: a fixed piece of single-threaded Python of the kind the services spend
  their CPU on (event-sized documents encoded to JSON and decoded, dictionaries built and
  sorted), its wall time and CPU time, the best of ``rounds`` (the least disturbed);
- ``postgresql``: the smallest transaction (one INSERT and its commit) on one pooled
  connection to a throwaway database, its wall time and the backend's CPU, medians of
  ``rounds`` rounds of ``transactions``.

``bench/call_at_scale.py`` and ``bench/submission_rush.py`` measure it before their stack
starts and after it has stopped. Alone, the last line is one JSON object:

    python bench/reference.py [--rounds 3] [--transactions 500]
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

from bench.pool_checkout import per_transaction  # noqa: E402
from bench.submission_db import PG_URL  # noqa: E402
from shared.db.engine import create_service_engine, drop_postgres_databases  # noqa: E402

DOCUMENTS = 5000  # of the Python workload: a few tenths of a second


def python_work() -> int:
    """The fixed workload; returns a checksum, so that none of it can be skipped."""
    total = 0
    for n in range(DOCUMENTS):
        event = {"event_id": f"{n:032x}", "event_type": "proposal_screened",
                 "call_id": "AMIF-2018-AG-INTE", "proposal_id": f"P-{n:06d}",
                 "scores": {f"criterion-{c}": (n * 7 + c) % 31 for c in range(5)},
                 "participants": [{"organisation_id": f"ORG-{(n + p) % 97}",
                                   "country": "BE FR DE IT ES".split()[p % 5]}
                                  for p in range(4)]}
        decoded = json.loads(json.dumps(event, sort_keys=True))
        ranked = sorted(decoded["scores"].items(), key=lambda item: (-item[1], item[0]))
        total += len(ranked[0][0]) + sum(len(p["organisation_id"]) for p in
                                         decoded["participants"])
    return total


def python_figures(rounds: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        python_work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_ms": round(1000 * min(walls), 1), "cpu_ms": round(1000 * min(cpus), 1)}


def postgresql_figures(rounds: int, transactions: int,
                       database: str | None = None) -> dict[str, float]:
    """On a database of its own (``database``, or a new name), dropped afterwards."""
    database = database or f"gf_reference_{uuid.uuid4().hex[:8]}"
    engine = create_service_engine(f"{PG_URL}/{database}", pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE written (id serial PRIMARY KEY, n int)"))
        runs = [per_transaction(engine, transactions) for _ in range(rounds)]
    finally:
        engine.dispose()
        drop_postgres_databases(PG_URL, database)
    return {"txn_wall_us": round(statistics.median(r["wall_us"] for r in runs), 1),
            "txn_backend_cpu_us": round(statistics.median(r["backend_cpu_us"] for r in runs), 1)}


def measure(rounds: int = 3, transactions: int = 500) -> dict[str, dict[str, float]]:
    return {"python": python_figures(rounds),
            "postgresql": postgresql_figures(rounds, transactions)}


def in_words(figures: dict) -> str:
    python, postgresql = figures["python"], figures["postgresql"]
    return (f"Python {python['wall_ms']} ms ({python['cpu_ms']} ms CPU), PostgreSQL "
            f"transaction {postgresql['txn_wall_us']} us ({postgresql['txn_backend_cpu_us']} "
            f"us backend CPU)")


def around(work) -> dict:
    """``work()``'s figures (a dict) with the reference measured before and after it as
    ``reference``; each is printed as it is measured."""
    before = measure()
    print(f"machine reference before: {in_words(before)}", flush=True)
    figures = work()
    after = measure()
    print(f"machine reference after: {in_words(after)}", flush=True)
    return {**figures, "reference": {"before": before, "after": after}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=500)
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20 or not 1 <= args.transactions <= 100_000:
        parser.error("--rounds must be 1 to 20, --transactions 1 to 100,000")
    figures = measure(args.rounds, args.transactions)
    print(f"machine reference: {in_words(figures)}", flush=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
