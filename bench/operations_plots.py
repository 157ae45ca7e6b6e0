"""Benchmark of the operations page's plots on a synthetic call of many proposals.

    python bench/operations_plots.py [--proposals 10000] [--experts 2000] [--seed 7]

Builds proposal views as the projections store them (with their state histories, spread
over the call's timetable: submitted, screened, evaluated, ranked, grants signed or
declined), then times what ``GET /calls/{id}/plots`` does after the database reads:
computing the figures (``domain/plot_data.py``) and drawing them (``adapters/plots.py``).
The views' JSON round trip (what reading them from the projection costs in Python) is
timed apart. The reads themselves are those of the overview the page already makes.

Last line: one JSON object with the seconds of each phase, the plots' total SVG size in
bytes, and the size of the JSON answer.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.operations.adapters import plots as draw
from services.operations.adapters.projections import view_from_json, view_to_json
from services.operations.domain import lifecycle as lc
from services.operations.domain.loads import Assignment, expert_loads
from services.operations.domain.plot_data import stages_over_time, time_targets, topic_scores
from services.operations.domain.report import TopicInfo
from shared.calls.loader import load_default_call
from shared.calls.model import milestones


def synthetic_views(n: int, call, rng: random.Random) -> list[lc.ProposalView]:
    opening, deadline = call.stage("publication").starts_at, call.deadline
    ranked_at = call.stage("information_to_applicants").starts_at
    topics = [t.id for t in call.topics]
    views = []
    for i in range(n):
        submitted = opening + (deadline - opening) * rng.random() ** 0.3
        history = [(lc.SUBMITTED, submitted)]
        view = lc.ProposalView(f"P-{i:06d}", topic_id=rng.choice(topics), acronym=f"P{i}",
                               requested_grant=Decimal(rng.randrange(450, 1000) * 1000))
        if rng.random() < 0.03:
            history.append((lc.WITHDRAWN, submitted + timedelta(days=2)))
        elif rng.random() < 0.1:
            history += [(lc.FROZEN, deadline), (lc.INELIGIBLE, deadline)]
        else:
            score = Decimal(rng.randrange(400, 1000)) / 10
            history += [(lc.FROZEN, deadline), (lc.ELIGIBLE, deadline),
                        (lc.UNDER_EVALUATION, deadline + timedelta(days=1)),
                        (lc.EVALUATED, deadline + timedelta(days=rng.randrange(30, 120)))]
            listed = "main" if score >= 85 else "reserve" if score >= 75 else "rejected"
            history.append(({"main": lc.MAIN_LIST, "reserve": lc.RESERVE_LIST}.get(
                listed, lc.REJECTED), ranked_at))
            if listed == "main":
                history.append((lc.GRANT_SIGNED, ranked_at + timedelta(
                    days=rng.randrange(30, 200))))
            view = replace(view, total_score=score, passed=score >= 70, list=listed,
                           rank=int((100 - score) * 10) if listed != "rejected" else None,
                           ranking_amount=view.requested_grant,
                           grant_id=f"G-{i}" if listed == "main" else None)
        views.append(replace(view, state=history[-1][0], history=tuple(history)))
    return views


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--experts", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    call = load_default_call()
    views = synthetic_views(args.proposals, call, rng)
    stored = [view_to_json(v) for v in views]
    ranked_at = call.stage("information_to_applicants").starts_at
    informed = {v.proposal_id: ranked_at + timedelta(hours=rng.randrange(1, 48))
                for v in views if v.list is not None}
    assignments = [Assignment(f"E{rng.randrange(args.experts)}", v.proposal_id, v.topic_id,
                              assigned_at=call.deadline, report_final=rng.random() < 0.7)
                   for v in views for _ in range(3) if v.total_score is not None]
    reached = [(m.label, m.at) for m in milestones(call)]
    topics = [TopicInfo(t.id, t.title, t.budget, True) for t in call.topics]

    timings = {}
    started = time.perf_counter()
    views = [view_from_json(data) for data in stored]
    timings["views_from_json_s"] = time.perf_counter() - started

    started = time.perf_counter()
    series = stages_over_time(views, reached)
    scores = topic_scores(views, call, topics)
    loads = expert_loads(assignments)
    targets = time_targets(views, informed, call)
    timings["figures_s"] = time.perf_counter() - started

    started = time.perf_counter()
    drawn = [draw.stages_plot(series, call.timezone),
             *(draw.score_plot(t) for t in scores), draw.loads_plot(loads),
             draw.targets_plot(targets)]
    timings["drawing_s"] = time.perf_counter() - started
    answer = json.dumps({"plots": drawn})
    result = {"proposals": args.proposals, "experts": len(loads),
              **{k: round(v, 3) for k, v in timings.items()},
              "total_s": round(sum(timings.values()), 3),
              "svg_bytes": sum(len(p["svg"]) for p in drawn), "answer_bytes": len(answer)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
