"""A whole call at scale, publication to last signature, through the real services, broker,
PostgreSQL and SMTP server.

A private stack (own vhost, databases, SMTP server, simulated clock) runs the synthetic
AMIF-2018-AG-INTE call of ``--proposals`` applicants and ``--experts`` experts with the
concurrent scenario runner: everyone due at an instant acts at once through ``--workers``
HTTP clients; the clock moves only when the pipeline and the mail have settled. Progress is
printed per stage; the last line is one JSON object:

- ``stages``: seconds of drafts, submission (the applicants' actions up to the deadline),
  deadline_to_screened (the deadline milestone: closing and screening every topic),
  assignment (evaluation_start: the solver), reports (the evaluation rounds), ranking
  (evaluation_end), letters (information_to_applicants), grants (the grant rounds to the
  end of signatures, and the last mail);
- ``final_all``, ``not_final`` (proposals without a final state), ``lost`` (proposals the
  runner got a receipt for that the operations report lacks, plus messages the delivery
  log says were sent that the SMTP server never received);
- ``duplicate_mails``: copies beyond the first, counted on the SMTP server's side by
  Message-ID, plus delivery-log rows beyond the first for one (recipient, template,
  proposal, cause) (the latter would be a message queued twice under two ids);
- ``events_per_s`` (events published by all relays over the whole run), ``peak_rss_mb``
  per service (``peak_rss_mb_per_phase``: the runner's phase that reached it) and
  ``pg_connections_max`` (sampled every second), ``pg_sessions_opened`` (connections set
  up during the run), the machine's load and ``reference``, the machine's speed measured
  before the stack starts and after it stops (``bench/reference.py``: figures of
  different hours compare through it);
- ``cpu_seconds`` of each service, the SMTP server, the runner, PostgreSQL and RabbitMQ,
  and the same by stage (``cpu_seconds_per_stage``, the stages of ``stages``: on two
  cores, what bounds each one; printed at the end, busiest first) and by the runner's
  phases and the milestones measured apart from them (``cpu_seconds_per_phase``: the
  deadline and the start of evaluation fire amid the applicants' actions or in the
  advance to the start of evaluation);
- ``pg_maintenance``: the server's ``autovacuum`` setting and, where it is off (this
  machine's), the vacuums and analyses the run did in its place (``bench/autovacuum.py``),
  with their seconds: counted in the figures, as a deployment's autovacuum would be.

``--through PHASE`` stops after one of the runner's phases (prepare: the drafts;
applicants: submission and the deadline; assignment; evaluation: reports and ranking;
grants), for a call too large to run to its end in one sitting: ``final_all`` and
``not_final`` are then null, the other figures are the call's as it stands.

    python bench/call_at_scale.py --proposals 1000 --experts 300 [--seed 2019] [--workers 32]
                                  [--through assignment]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import reference  # noqa: E402
from bench.stack import (CpuMeter, Sampler, delivery_log, elapsed, environment, load,  # noqa: E402
                         private_stack, received_message_ids)
from grantflow.scenario.runner import DEFAULT_WORKERS, PHASES, ScenarioRunner  # noqa: E402
from grantflow.scenario.synthetic import synthetic_scenario  # noqa: E402
from shared.config import SERVICES  # noqa: E402

PUBLISHED = re.compile(r'^grantflow_events_published_total\{[^}]*\} ([0-9.e+]+)$', re.M)


def stages(runner: ScenarioRunner) -> dict[str, float]:
    """Seconds per stage. Milestones passed while applicants still act (the deadline, the
    start of evaluation before a withdrawal during evaluation) count for their stage."""
    timings, milestones = runner.timings, runner.milestones
    deadline = milestones.get("submission_deadline", 0.0)
    assignment = milestones.get("evaluation_start", 0.0)
    return {"drafts": timings.get("drafts", 0.0),
            "submission": round(timings.get("applicants", 0.0) + timings.get(
                "deadline_to_assigned", 0.0) - deadline - assignment, 1),
            "deadline_to_screened": deadline,
            "assignment": assignment,
            "reports": timings.get("reports", 0.0),
            "ranking": timings.get("ranking", 0.0),
            "letters": timings.get("letters", 0.0),
            "grants": round(timings.get("grants", 0.0) + timings.get("finish", 0.0), 1)}


#: the stage of :func:`stages` that each of the CPU meter's phases belongs to: the runner's
#: phases, and the milestones it measures apart from the phase they fire in; what the
#: advance to the start of evaluation spends beside them is the submission's, as its
#: seconds are in :func:`stages` (publication, the setting up of the call, is in no stage)
STAGE_OF = {"drafts": "drafts", "applicants": "submission",
            "submission_deadline": "deadline_to_screened", "evaluation_start": "assignment",
            "deadline_to_assigned": "submission", "reports": "reports", "ranking": "ranking",
            "letters": "letters", "grants": "grants", "finish": "grants"}


def cpu_per_stage(per_phase: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """CPU seconds of each process by stage, summed over the phases of each stage."""
    staged: dict[str, dict[str, float]] = {}
    for phase, spent in per_phase.items():
        stage = STAGE_OF.get(phase)
        if stage is None:
            continue
        into = staged.setdefault(stage, {})
        for name, seconds in spent.items():
            into[name] = round(into.get(name, 0.0) + seconds, 1)
    return staged


def busiest(spent: dict[str, float]) -> str:
    """Busiest first; a phase that passed in an instant (its milestone already reached
    in the phase before) says so instead of printing nothing."""
    return ", ".join(f"{name} {seconds}" for name, seconds in
                     sorted(spent.items(), key=lambda item: -item[1]) if seconds) \
        or "under 0.1 s each"


def largest(peaks: dict[str, float]) -> str:
    """Services by peak resident memory, largest first."""
    return ", ".join(f"{name} {mb:.0f}" for name, mb in
                     sorted(peaks.items(), key=lambda item: -item[1])) or "not sampled"


def events_published(stack) -> int:
    total = 0.0
    for name in SERVICES:
        text = requests.get(f"{stack.url(name)}/metrics", timeout=30).text
        total += sum(float(value) for value in PUBLISHED.findall(text))
    return int(total)


def mail_figures(stack) -> dict:
    """Duplicates and losses, from the SMTP server's side and the delivery log."""
    received = Counter(received_message_ids(stack))
    log = delivery_log(stack)
    by_cause = Counter((r["recipient"], r["template"], r["proposal_id"], r["source_event_id"])
                       for r in log if r.get("resend_of") is None)
    sent = [r for r in log if r["status"] == "sent"]
    return {"mails_received": sum(received.values()),
            "duplicate_by_message_id": sum(n - 1 for n in received.values() if n > 1),
            "duplicate_by_cause": sum(n - 1 for n in by_cause.values() if n > 1),
            "sent_not_received": sum(1 for r in sent if r["message_id"] not in received),
            "failed_mails": sum(1 for r in log if r["status"] == "failed"),
            "mails_by_template": dict(Counter(r["template"] for r in log).most_common())}


def ended(cpu: CpuMeter, sampler: Sampler, phase: str) -> None:
    """A phase of the runner ended: what it spent (all of it, the parts before a milestone
    measured apart included) and its services' peak memory."""
    cpu.phase_ended(phase)
    print(f"  CPU seconds in {phase}: {busiest(cpu.phases[phase])}\n"
          f"  peak RSS MB in {phase}: {largest(sampler.phase_ended(phase))}", flush=True)


def apart(cpu: CpuMeter, name: str) -> None:
    """A boundary the runner draws around a milestone: what was spent since the last one
    goes to ``name`` (the phase the milestone fired in, or the milestone, which is
    printed)."""
    spent = cpu.phase_ended(name)
    if name in STAGE_OF and STAGE_OF[name] != STAGE_OF["applicants"]:
        print(f"  CPU seconds in {name}: {busiest(spent)}", flush=True)


def run(args) -> dict:
    scenario = synthetic_scenario(args.proposals, args.experts, args.seed)
    print(f"scenario {scenario.name}: {len(scenario.proposals)} proposals, "
          f"{len(scenario.experts)} experts; {load()}", flush=True)
    started = time.monotonic()
    with private_stack() as stack, Sampler(stack) as sampler:
        print(f"[{elapsed(started)}s] private stack up ({stack.vhost.name})", flush=True)
        cpu, sessions = CpuMeter(stack), sampler.pg_sessions()
        runner = ScenarioRunner(scenario, environment(stack), workers=args.workers,
                                seed=args.seed, progress=lambda line: print(line, flush=True),
                                with_notifications=False,  # counted below, by Message-ID
                                phase_ended=lambda phase: ended(cpu, sampler, phase),
                                milestone_apart=lambda name: apart(cpu, name))
        began = time.monotonic()
        report = runner.run(through=args.through)
        seconds = time.monotonic() - began
        sampler.sample()
        events = events_published(stack)
        mail = mail_figures(stack)
        submitted = {ref for ref, acts in runner.actions.items()
                     if any(a["status"] == 200 and a["do"] != "withdraw" for a in acts)}
        in_report = {p["ref"] for p in report["proposals"]}
        not_final = [(p["ref"], p.get("state")) for p in report["proposals"]
                     if not p.get("final_state")]
        whole = args.through == PHASES[-1]  # else no proposal is meant to be final yet
        figures = {
            "proposals": args.proposals, "experts": args.experts, "seed": args.seed,
            "workers": args.workers, "through": args.through,
            "seconds_total": round(seconds, 1),
            "stages": stages(runner), "milestones": runner.milestones,
            "final_all": not not_final if whole else None,
            "not_final": len(not_final) if whole else None,
            "not_final_examples": not_final[:10] if whole else [],
            "lost": len(submitted - in_report) + mail["sent_not_received"],
            "duplicate_mails": mail["duplicate_by_message_id"] + mail["duplicate_by_cause"],
            **mail, "events": events, "events_per_s": round(events / seconds, 1),
            "peak_rss_mb": sampler.peak_rss_mb,
            "peak_rss_mb_per_phase": sampler.peak_rss_mb_per_phase,
            "pg_connections_max": sampler.pg_connections_max,
            "pg_sessions_opened": sampler.pg_sessions() - sessions,
            "cpu_seconds": cpu.totals(), "cpu_seconds_per_stage": cpu_per_stage(cpu.phases),
            "cpu_seconds_per_phase": cpu.phases,
            "pg_maintenance": stack.autovacuum.report(),
            "load_average_1m": round(__import__("os").getloadavg()[0], 2),
            "setup_seconds": round(began - started, 1)}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--experts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--through", choices=PHASES, default=PHASES[-1],
                        help="stop after this phase of the runner (default: the whole call); "
                             "stages not reached count 0 s")
    args = parser.parse_args()
    if args.proposals < 1 or args.experts < 1 or not 1 <= args.workers <= 256:
        parser.error("--proposals and --experts must be at least 1, --workers 1 to 256")
    figures = reference.around(lambda: run(args))
    print(f"{figures['proposals']} x {figures['experts']} in {figures['seconds_total']}s; "
          f"final_all {figures['final_all']}, lost {figures['lost']}, duplicate mails "
          f"{figures['duplicate_mails']}; stages {figures['stages']}", flush=True)
    for stage, seconds in figures["stages"].items():
        spent = figures["cpu_seconds_per_stage"].get(stage, {})
        print(f"  {stage:>21} {seconds:7.1f} s; CPU s {busiest(spent)}", flush=True)
    print(json.dumps(figures))
    ok = figures["final_all"] is not False and figures["lost"] == 0 \
        and figures["duplicate_mails"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
