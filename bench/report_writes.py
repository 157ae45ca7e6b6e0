"""What an evaluator's final report costs the evaluation service, on PostgreSQL.

In the reports stage of a large call the evaluation service is the busiest process
(``bench/call_at_scale.py`` at 10,000 proposals: 16,000 reports). This bench runs the
service's own report handler, as its HTTP entrypoint does, on a throwaway database with
evaluation's migrations: ``--proposals`` proposals of one topic, assigned by the real
solver, then every assigned evaluator's final report in turn (each proposal's last one
completes it). It prints the CPU this process spent a report (the service's share;
PostgreSQL's own is not in it), the wall time a report and the SELECT statements a
report sent, by table. The last line is one JSON object.

    python bench/report_writes.py [--proposals 300]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.submission_db import PG_URL  # noqa: E402
from services.evaluation.handlers import evaluators  # noqa: E402
from shared.db.engine import drop_postgres_databases  # noqa: E402
from tests.support.plans import selects_of, tables_read  # noqa: E402
from tests.unit.evaluation.handler_support import Harness, evaluator, scores  # noqa: E402

BODY = scores((27, 18, 13, 13, 17))  # 88 of 100, a comment on each criterion, final


def run(proposals: int) -> dict:
    database = f"gf_report_writes_{uuid.uuid4().hex[:8]}"
    harness = None
    try:
        harness = Harness(None, url=f"{PG_URL}/{database}")
        statements, seconds, pairs = _reports(harness, proposals)
        completed = len(harness.outbox("evaluation_completed"))
    finally:
        if harness is not None:
            harness.factory.engine.dispose()
        drop_postgres_databases(PG_URL, database)
    counted = tables_read(statements)
    cpu, wall = seconds
    reports = len(pairs)
    return {"proposals": proposals, "reports": reports, "completed": completed,
            "cpu_ms_per_report": round(1000 * cpu / reports, 2),
            "wall_ms_per_report": round(1000 * wall / reports, 2),
            "selects_per_report": round(sum(counted.values()) / reports, 2),
            "selects_by_table": dict(counted.most_common())}


def _reports(harness, proposals: int):
    """Assign, then write every final report: (the statements sent, (CPU s, wall s),
    pairs)."""
    harness.open_topic([f"P-{i}" for i in range(1, proposals + 1)],
                       experts_=max(6, proposals // 2))
    pairs = sorted(harness.active_pairs(), key=lambda pair: (pair[1], pair[0]))
    seconds = []

    def write_all():
        cpu, wall = time.process_time(), time.perf_counter()
        for expert_id, pid in pairs:
            evaluators.save_report(harness.uow(), harness.clock, evaluator(expert_id), pid,
                                   BODY, "individual")
        seconds.extend((time.process_time() - cpu, time.perf_counter() - wall))
    statements = selects_of(harness.factory.engine, write_all)
    return statements, tuple(seconds), pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=300)
    args = parser.parse_args(argv)
    if not 1 <= args.proposals <= 5000:
        parser.error("--proposals must be 1 to 5000")
    figures = run(args.proposals)
    print(f"{figures['reports']} final reports on {figures['proposals']} proposals "
          f"({figures['completed']} completed): {figures['cpu_ms_per_report']} ms CPU, "
          f"{figures['wall_ms_per_report']} ms wall, {figures['selects_per_report']} "
          f"SELECTs a report", flush=True)
    print(json.dumps(figures))
    return 0 if figures["completed"] == figures["proposals"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
