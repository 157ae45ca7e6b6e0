"""The deadline of a large call in the submission service alone: topics closed, then every
frozen proposal screened, tick after tick, as the timetable driver asks for it.

A throwaway PostgreSQL database gets a call of ``--proposals`` submitted proposals (one
per topic created and submitted through the service's handlers, then copied in SQL, each
copy its own coordinator organisation and acronym), split between the call's topics as
the 100,000 run's were (37,946 / 23,906 / 14,109 / 11,286 / 7,735 of 94,982). Then the
service's own deadline work runs: every topic closed (``close_topics``, what the first
ticks do), then ticks of ``--tick-seconds`` at the deadline, as the timetable driver asks
for them, until nothing is pending. Printed: the seconds of closing, the seconds and
ticks of screening, proposals screened a second, and the last line, one JSON object.

No broker, mail or other service: this is the submission service's share of the
deadline stage, the part its code decides; run it from two checkouts to compare them.

    python bench/deadline_screening.py [--proposals 95000] [--tick-seconds 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: the 100,000 run's topics, largest first (stop 28)
SHARES = (37_946, 23_906, 14_109, 11_286, 7_735)


def topic_sizes(total: int, topics: int) -> list[int]:
    shares = SHARES[:topics] + (SHARES[-1],) * max(0, topics - len(SHARES))
    sizes = [total * share // sum(shares) for share in shares]
    sizes[0] += total - sum(sizes)
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=95_000)
    parser.add_argument("--tick-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if not 5 <= args.proposals <= 1_000_000 or not 0 <= args.tick_seconds <= 600:
        parser.error("--proposals must be 5 to 1,000,000 and --tick-seconds 0 to 600")

    import sqlalchemy as sa

    from bench.submission_db import (Clock, copy_proposal, publish, submission_database,
                                     submit)
    from grantflow.scenario.synthetic import synthetic_scenario
    from services.submission.handlers import timetable as driver

    with submission_database("deadline_bench") as (engine, uow):
        scenario = synthetic_scenario(50, 5, 2019)
        call = publish(uow, scenario)
        publication = call.stage("publication").starts_at
        driver.tick(uow, publication)  # the publication milestone, out of the way
        clock = Clock(publication + timedelta(days=1))
        seeds = {}
        for spec in scenario.proposals:  # one per topic
            if spec.topic not in seeds:
                seeds[spec.topic] = submit(uow, call, spec, clock)
        topics = [t.id for t in call.topics if t.id in seeds]
        sizes = topic_sizes(args.proposals - len(topics), len(topics))
        began = time.perf_counter()
        with engine.begin() as connection:
            for number, (topic, size) in enumerate(zip(topics, sizes), 1):
                copy_proposal(connection, seeds[topic], size, f"P-T{number}", frozen=False)
            connection.execute(sa.text("ANALYZE"))
        print(f"{args.proposals} submitted proposals in {len(topics)} topics "
              f"({', '.join(map(str, (s + 1 for s in sizes)))}) copied in "
              f"{time.perf_counter() - began:.1f}s", flush=True)

        # the topics closed first, all at once (what the first ticks do, the same code),
        # so that the ticks after time screening alone
        began = time.perf_counter()
        closed = driver.close_topics(uow, call.id, call.deadline)
        closed_at, ticks = time.perf_counter(), []
        print(f"{len(closed)} topics closed in {closed_at - began:.1f}s", flush=True)
        while True:
            started = time.perf_counter()
            report = driver.tick(uow, call.deadline, work_seconds=args.tick_seconds)
            pending = report.pending[0] if report.pending else None
            ticks.append(time.perf_counter() - started)
            if pending is None:
                break
            print(f"  tick {len(ticks)} ({ticks[-1]:.1f}s): {pending['closed']} of "
                  f"{pending['topics']} topics closed, {pending['screened']} screened",
                  flush=True)
            if len(ticks) > 10_000:
                raise RuntimeError("the deadline is still pending after 10,000 ticks")
        ended = time.perf_counter()
        with engine.connect() as connection:
            screened = connection.execute(sa.text(
                "SELECT count(*) FROM proposals WHERE screening IS NOT NULL")).scalar()
        figures = {"proposals": args.proposals, "topics": len(topics),
                   "tick_seconds": args.tick_seconds, "screening_ticks": len(ticks),
                   "closing_s": round(closed_at - began, 1),
                   "screening_s": round(ended - closed_at, 1),
                   "screened": screened,
                   "screened_per_s": round(screened / max(ended - closed_at, 1e-9), 1),
                   "longest_tick_s": round(max(ticks), 1)}
        print(f"closing {figures['closing_s']}s; screening {screened} in "
              f"{figures['screening_s']}s ({figures['screened_per_s']} a second); "
              f"{len(ticks)} ticks, the longest {figures['longest_tick_s']}s", flush=True)
        print(json.dumps(figures))
        return 0 if screened == args.proposals else 1


if __name__ == "__main__":
    raise SystemExit(main())
