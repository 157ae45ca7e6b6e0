"""Screening's read of a call's rivals, one run: every frozen proposal's project fields.

At the deadline each topic's screening judges its proposals against the call's others
(``single_topic``) through one read of every frozen proposal's coordinator organisation
and acronym. This builds a call of ``--proposals`` frozen proposals in a throwaway
PostgreSQL database (one proposal created and submitted through the service's handlers,
then copied in SQL, each copy its own organisation and acronym) and times, in the same run:

- ``columns``: the read as the service does it now (``rivals_of_call``: the version's own
  columns, migration ``submission_version_project``);
- ``json`` (the baseline): the same read out of each version's content JSON, as before
  that migration, and as the service still reads a version stored before it.

Each is run ``--repeat`` times; the median is printed, with the ratio. Then the Python
side (:func:`rivals`: the index screening uses), on what ``columns`` read. The last line
printed is one JSON object.

    python bench/rivals_read.py [--proposals 95000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_seconds(work, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=95_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not 1 <= args.proposals <= 1_000_000 or not 1 <= args.repeat <= 20:
        parser.error("--proposals must be 1 to 1,000,000 and --repeat 1 to 20")

    import sqlalchemy as sa

    from bench.submission_db import (Clock, copy_proposal, publish, submission_database,
                                     submit)
    from grantflow.scenario.synthetic import synthetic_scenario
    from services.submission.adapters.repository import ProposalRepository, _with_frozen_version
    from services.submission.adapters.tables import proposal_versions, proposals
    from services.submission.domain.proposal import Rival, project_key
    from services.submission.handlers.timetable import rivals

    with submission_database("rivals_bench") as (engine, uow):
        scenario = synthetic_scenario(1, 1, 2019)
        call = publish(uow, scenario)
        seed = submit(uow, call, scenario.proposals[0],
                      Clock(call.stage("publication").starts_at + timedelta(days=1)))
        began = time.perf_counter()
        with engine.begin() as connection:
            copy_proposal(connection, seed, args.proposals, "P-B", frozen=True)
            connection.execute(sa.text("ANALYZE proposals; ANALYZE proposal_versions"))
        print(f"{args.proposals} frozen proposals copied in {time.perf_counter() - began:.1f}s",
              flush=True)
        call_id = call.id

        def read_columns():
            with uow:
                return ProposalRepository(uow.session).rivals_of_call(call_id)

        def read_json():
            v = proposal_versions.alias("v")
            query = sa.select(
                proposals.c.id, proposals.c.topic_id,
                v.c.content[("coordinator", "organisation_id")].as_string(),
                v.c.content["acronym"].as_string(),
            ).select_from(_with_frozen_version(v)).where(
                proposals.c.call_id == call_id, proposals.c.state == "frozen")
            with uow:
                return [Rival(pid, call_id, topic, project_key(organisation, acronym))
                        for pid, topic, organisation, acronym in uow.session.execute(query)]

        columns, by_columns = median_seconds(read_columns, args.repeat)
        baseline, by_json = median_seconds(read_json, args.repeat)
        assert sorted(by_columns, key=lambda r: r.proposal_id) == \
            sorted(by_json, key=lambda r: r.proposal_id), "the two reads disagree"
        indexing, _ = median_seconds(lambda: rivals(by_columns), args.repeat)
        figures = {"proposals": len(by_columns), "repeat": args.repeat,
                   "read_columns_s": round(columns, 3), "read_json_s": round(baseline, 3),
                   "ratio_json_over_columns": round(baseline / columns, 2),
                   "index_rivals_s": round(indexing, 3)}
        print(f"read of {len(by_columns)} rivals: columns {columns:.3f}s, JSON (baseline) "
              f"{baseline:.3f}s, {baseline / columns:.1f}x; indexing them {indexing:.3f}s",
              flush=True)
        print(json.dumps(figures))
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
