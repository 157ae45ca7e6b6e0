"""Listing benchmark: paging through a large delivery log by offset and by position.

Against real PostgreSQL (a throwaway database with the notifications service's schema),
with the service's own handler (``handlers.queries.list_notifications``, as
``GET /notifications`` and ``GET /notifications.csv`` call it), without nameko or HTTP:

- ``--rows`` deliveries of one call are queued in bulk (``bench.mail_delivery``'s), then
  analysed, as autovacuum would;
- the whole log is read page after page, as the scenario runner's report does (pages of
  500) and as ``grantflow export deliveries`` does (pages of 10,000): by ``offset`` (the
  way both paged before) and by ``after`` (the last delivery of the page before).

A 10,000-proposal call sends about 175,000 messages, a 100,000-proposal call about 1.75
million. The ratio is offset seconds over position seconds, measured in the same run. The
last line printed is one JSON object.

    python bench/delivery_listing.py [--rows 175000] [--pages 500,10000] [--skip-offset-above N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("GRANTFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
CALL_ID = "AMIF-BENCH"  # the call of bench.mail_delivery's messages
START = datetime(2019, 7, 1, 8, 0, tzinfo=timezone.utc)
BATCH = 5_000


def read_all(uow, principal, page: int, by: str) -> tuple[int, int, float]:
    """(rows read, requests, seconds) for the whole log, ``by`` offset or after (the
    runner's and the benchmarks' loop, ``grantflow.http.pages_after``)."""
    from grantflow.http import pages_after
    from services.notifications.handlers.queries import list_notifications

    def fetch(query: dict) -> dict:
        if "after" in query:  # as the service's schema loads it
            query = {**query, "after": uuid.UUID(query["after"])}
        return list_notifications(uow, principal, {"offset": 0, **query})

    rows = requests = 0
    started = time.perf_counter()
    if by == "after":
        for items in pages_after(fetch, {"call_id": CALL_ID, "limit": page}):
            requests += 1
            rows += len(items)
        return rows, requests, time.perf_counter() - started
    while True:
        answer = fetch({"call_id": CALL_ID, "limit": page, "offset": rows})
        requests += 1
        rows += len(answer["items"])
        if not answer["items"] or rows >= answer["total"]:
            return rows, requests, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=175_000)
    parser.add_argument("--pages", default="500,10000", help="page sizes, comma-separated")
    parser.add_argument("--skip-offset-above", type=int, default=400,
                        help="do not page by offset when it takes more requests than this "
                             "(it grows with their square)")
    args = parser.parse_args(argv)

    import sqlalchemy as sa
    from sqlalchemy.orm import sessionmaker

    from bench.mail_delivery import notes
    from services.notifications.handlers.delivery import queue
    from shared.auth import Principal
    from shared.db.engine import create_service_engine, drop_postgres_databases
    from shared.db.migrations import upgrade_to_head
    from shared.db.uow import UnitOfWork

    database = f"gf_listing_bench_{uuid.uuid4().hex[:8]}"
    engine = create_service_engine(f"{PG_URL}/{database}")
    result: dict = {"rows": args.rows, "pages": {}}
    try:
        upgrade_to_head(engine, "services.notifications:migrations")
        uow = UnitOfWork(sessionmaker(engine, expire_on_commit=False), "notifications")
        print(f"queueing {args.rows} deliveries ...", flush=True)
        started = time.perf_counter()
        for first in range(0, args.rows, BATCH):
            # a milestone queues thousands at one instant: created_at repeats (every
            # 1,000 share one) and the id breaks the ties
            with uow:
                queue(uow, notes(min(BATCH, args.rows - first), f"listing-{first}"),
                      START + timedelta(seconds=first // 1000))
                uow.commit()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("ANALYZE deliveries"))
            size = conn.execute(sa.text(
                "SELECT pg_total_relation_size('deliveries')")).scalar()
        result["table_mb"] = round(size / 2**20)
        print(f"  {time.perf_counter() - started:.0f} s, deliveries {result['table_mb']} MB",
              flush=True)
        operations = Principal("ops@bench.example", "operations")
        for page in (int(p) for p in args.pages.split(",")):
            figures = {}
            for by in ("after", "offset"):
                requests = -(-args.rows // page)
                if by == "offset" and requests > args.skip_offset_above:
                    print(f"  pages of {page} by offset: {requests} requests, skipped",
                          flush=True)
                    continue
                rows, requests, seconds = read_all(uow, operations, page, by)
                assert rows == args.rows, (by, rows)
                figures[by] = {"seconds": round(seconds, 2), "requests": requests,
                               "rows_per_s": round(rows / seconds)}
                print(f"  pages of {page} by {by}: {seconds:.2f} s, {requests} requests, "
                      f"{rows / seconds:.0f} rows/s", flush=True)
            if "offset" in figures:
                figures["ratio"] = round(figures["offset"]["seconds"]
                                         / figures["after"]["seconds"], 1)
            result["pages"][page] = figures
    finally:
        engine.dispose()
        drop_postgres_databases(PG_URL, database)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
