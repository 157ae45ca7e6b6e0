"""What writing a topic's first assignment costs the evaluation service, on PostgreSQL.

After the solve, the service writes the run in one transaction (``assigning._write``): an
assignment row and an ``evaluator_assigned`` event a pair (three a proposal), each
proposal's target, the topic's status and the run's record. At 100,000 proposals that is
300,000 pairs, written while the rest of the service waits for the solver's lock.

This bench fills a throwaway database with evaluation's migrations (the real handlers: the
call, the deadline's manifest, the screenings in the service's batches, the pool; the
manifest's and the screenings' seconds are reported as ``deadline``), plans
the topic's first assignment as the service does, and gives it ``--proposals`` x 3 pairs
(spread over the pool; the solver is not what is measured). It then times the write, in a
transaction rolled back after each round so every round writes the same: the service's
form, and in the same run the form it replaced (a look for each pair, then its own
INSERT; an UPDATE a proposal for its target). Wall time and this process's CPU a pair,
medians of ``--rounds``; the outbox rows of the events are written at the commit, which
the rounds do not reach, and are the same in both forms. The last line is one JSON object.

    python bench/assignment_write.py [--proposals 5000] [--experts 1700] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.submission_db import PG_URL  # noqa: E402
from services.evaluation.adapters import repository as repo  # noqa: E402
from services.evaluation.adapters.tables import assignments  # noqa: E402
from services.evaluation.handlers import assigning, events  # noqa: E402
from services.evaluation.handlers.common import assigned_event  # noqa: E402
from shared.db.engine import drop_postgres_databases  # noqa: E402
from tests.support.evaluation_events import (CALL_ID, call_published,  # noqa: E402
                                             deadline_closed, expert_record, screened,
                                             stage)
from tests.unit.evaluation.handler_support import Harness  # noqa: E402

K = 3
SCREENING_BATCH = 100  # the service's batch of proposal_screened events


def fill(harness: Harness, proposals: int, experts: int) -> tuple[list[str], dict]:
    """The call, the manifest, every proposal screened eligible (in the service's batches
    of 100), the pool and the start of evaluation; returns the proposal ids and the
    seconds the manifest and the screenings took (the deadline's writes)."""
    pids = [f"P-{i:06d}" for i in range(1, proposals + 1)]
    harness.deliver(call_published())
    started = time.perf_counter()
    harness.deliver(deadline_closed(pids))
    noted = time.perf_counter()
    for start in range(0, proposals, SCREENING_BATCH):
        uow = harness.factory(consumer="evaluation.on_proposal_screened")
        uow.consume_batch([screened(p) for p in pids[start:start + SCREENING_BATCH]],
                          partial(events.on_proposals_screened, now=harness.clock.now()),
                          bulk=True)
    screened_at = time.perf_counter()
    harness.import_experts([expert_record(i) for i in range(1, experts + 1)])
    harness.deliver(stage("evaluation_start"))
    return pids, {"manifest_seconds": round(noted - started, 2),
                  "screenings_seconds": round(screened_at - noted, 2)}


def replaced_write(uow, plan, accepted, now) -> None:
    """The pairs and the targets as the service wrote them before this bench's change
    (the rest of the write, unchanged, is left out of both forms' differences)."""
    call = plan.call
    experts = {e.id: e for e in plan.experts}
    for expert_id, proposal_id in sorted(accepted, key=lambda pair: (pair[1], pair[0])):
        row = plan.rows[proposal_id]
        event = assigned_event(call, row, experts[expert_id], "initial", now)
        values = dict(topic_id=row.topic_id, status="active", reason="initial",
                      assigned_at=now, due_at=event.due_at, released_at=None,
                      release_reason=None, note=None)
        if repo.assignment_row(uow, proposal_id, expert_id) is None:
            uow.session.execute(assignments.insert().values(proposal_id=proposal_id,
                                                            expert_id=expert_id, **values))
        uow.add_events(event)
    repo.bump_revision(uow)
    for pid, target in plan.targets.items():
        if plan.rows[pid].target_evaluators is None:
            repo.update_proposal(uow, pid, target_evaluators=target)


def service_write(uow, plan, accepted, now) -> None:
    assigning._write(uow, plan, [], accepted, {}, now, "bench")


def timed(harness: Harness, write, plan, accepted, rounds: int) -> tuple[float, float]:
    """Median (wall s, CPU s) of ``rounds`` writes, each rolled back."""
    walls, cpus = [], []
    for _ in range(rounds):
        uow = harness.uow()
        with uow:
            cpu, wall = time.process_time(), time.perf_counter()
            write(uow, plan, accepted, harness.clock.now())
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            written = uow.session.execute(
                assignments.select().with_only_columns(assignments.c.proposal_id)).all()
            if len(written) != len(accepted):
                raise AssertionError(f"{write.__name__} wrote {len(written)} pairs of "
                                     f"{len(accepted)}")
            uow.rollback()
    return statistics.median(walls), statistics.median(cpus)


def run(proposals: int, experts: int, rounds: int) -> dict:
    database = f"gf_assignment_write_{uuid.uuid4().hex[:8]}"
    harness = None
    try:
        harness = Harness(None, url=f"{PG_URL}/{database}")
        started = time.perf_counter()
        pids, deadline = fill(harness, proposals, experts)
        with harness.uow() as uow:
            plan = assigning._plan(uow, CALL_ID, assigning.INITIAL, None)
        filled = time.perf_counter() - started
        pool = [e.id for e in plan.experts]
        accepted = [(pool[(K * i + j) % len(pool)], pid)
                    for i, pid in enumerate(pids) for j in range(K)]
        figures = {}
        for name, write in (("replaced", replaced_write), ("service", service_write)):
            wall, cpu = timed(harness, write, plan, accepted, rounds)
            figures[name] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                             "wall_us_per_pair": round(1e6 * wall / len(accepted), 1),
                             "cpu_us_per_pair": round(1e6 * cpu / len(accepted), 1)}
    finally:
        if harness is not None:
            harness.factory.engine.dispose()
        drop_postgres_databases(PG_URL, database)
    return {"proposals": proposals, "experts": experts, "pairs": len(accepted),
            "rounds": rounds, "fill_seconds": round(filled, 1), "deadline": deadline,
            **figures,
            "ratio_replaced_over_service": round(
                figures["replaced"]["seconds"] / figures["service"]["seconds"], 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=5000)
    parser.add_argument("--experts", type=int, default=1700)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not 1 <= args.proposals <= 100_000:
        parser.error("--proposals must be 1 to 100,000")
    if not 3 <= args.experts <= 30_000:
        parser.error("--experts must be 3 to 30,000")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1 to 20")
    figures = run(args.proposals, args.experts, args.rounds)
    print(f"{figures['pairs']} pairs of {figures['proposals']} proposals: service "
          f"{figures['service']['seconds']} s ({figures['service']['cpu_us_per_pair']} us "
          f"CPU a pair), replaced form {figures['replaced']['seconds']} s "
          f"({figures['replaced']['cpu_us_per_pair']} us), "
          f"{figures['ratio_replaced_over_service']}x", flush=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
