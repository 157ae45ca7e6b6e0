"""The fault suite (``make faults``): replays through the faults operations meet, each
compared with a clean replay of the same seed.

Every experiment runs the same small synthetic call (``--proposals``, default 60) on a
private stack of its own (``bench/stack.py``: own vhost, databases, SMTP server; the shared
RabbitMQ and PostgreSQL servers are never restarted) and strikes once, mid-stage:

- ``kill:<service>@<stage>``: SIGKILL of one service, restarted 2 s later, at each of five
  stages: submission (amid the applicants' actions), screening (the deadline milestone),
  reports (amid the first evaluation round), letters (the information milestone), grants
  (amid the first grant round);
- ``kill:all@reports``: all five services at once;
- ``smtp-down@letters``: the SMTP server stopped for 30 s (``--smtp-down-seconds``);
- ``pg-terminate:<service>@reports``: ``pg_terminate_backend`` on that service's
  PostgreSQL connections;
- ``amqp-close:<service>@reports``: that service's broker connections closed through the
  management API.

Compared with the clean run, per proposal (by scenario ref): final state, rank and score
(``diverged`` counts proposals that differ); per (recipient, template, proposal): the mail
the SMTP server received (``lost_mails``: fewer than in the clean run, ``duplicate_mails``:
more; ``explained_duplicate_mails``: duplicates whose delivery the notifications service
shows as tried more than once, i.e. a resend after a process died between the SMTP
server's answer and its commit). The last line is one JSON object with ``experiments``
(each with its figures), ``diverged``, ``lost_mails``, ``duplicate_mails``,
``explained_duplicate_mails``, ``not_struck`` (experiments whose fault never happened),
``not_completed`` and ``seconds``. It exits 1 unless nothing diverged or was lost, every
duplicate is explained and every experiment completed and struck.

    python bench/faults.py [--proposals 60] [--experts 30] [--seed 2019] [--only PATTERN]
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import delivery_log, environment, load, private_stack  # noqa: E402
from grantflow.devsmtp import read_messages  # noqa: E402
from grantflow.scenario.model import Scenario  # noqa: E402
from grantflow.scenario.runner import ScenarioRunner  # noqa: E402
from grantflow.scenario.synthetic import synthetic_scenario  # noqa: E402
from shared.calls.loader import load_call_text  # noqa: E402
from shared.calls.model import milestones  # noqa: E402
from shared.config import SERVICES  # noqa: E402
from shared.db.engine import normalise_url  # noqa: E402
from tests.support.infra import PG_URL, RABBIT_API  # noqa: E402

STAGES = ("submission", "screening", "reports", "letters", "grants")
RESTART_AFTER = 2.0


# --------------------------------------------------------------------------- triggers
@dataclass
class Trigger:
    """When to strike: ``label`` is a batch of the runner's (an applicant instant, an
    evaluation round, a grant round) struck once ``share`` of it is done; ``milestone`` a
    timetable milestone struck as soon as the simulated clock reaches it."""

    label: str | None = None
    share: float = 0.3
    milestone: str | None = None


TRIGGERS = {
    "submission": Trigger(label="31 Jan 16:00"),  # the last hours' rush (Brussels time)
    "screening": Trigger(milestone="submission_deadline"),
    "reports": Trigger(label="evaluation round 1"),
    "letters": Trigger(milestone="information_to_applicants"),
    "grants": Trigger(label="grant round 1"),
}


# --------------------------------------------------------------------------- faults
def kill(*names: str) -> Callable:
    def strike(stack, say):
        for name in names:
            stack.processes[name].kill()
        say(f"    killed {', '.join(names)} (SIGKILL); restarting in {RESTART_AFTER:.0f}s")
        time.sleep(RESTART_AFTER)
        for name in names:
            restart(stack, name, say)
        say(f"    {', '.join(names)} restarted")
    return strike


def restart(stack, name: str, say, attempts: int = 5) -> None:
    """Start a service again, as a supervisor would: again a few seconds later if it
    exits during start-up (its database or broker briefly out of reach)."""
    for attempt in range(1, attempts + 1):
        try:
            stack.start(name)
            return
        except (RuntimeError, TimeoutError) as exc:
            if attempt == attempts:
                raise
            say(f"    {name} did not start ({str(exc).splitlines()[0]}); again in 3s")
            time.sleep(3)


def smtp_down(seconds: float) -> Callable:
    def strike(stack, say):
        stack.smtp.stop()
        say(f"    SMTP server stopped for {seconds:.0f}s")
        time.sleep(seconds)
        stack.smtp.start()
        say("    SMTP server started again")
    return strike


def pg_terminate(name: str) -> Callable:
    def strike(stack, say):
        engine = sa.create_engine(normalise_url(PG_URL + "/postgres"),
                                 poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            ended = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": f"{stack.databases.prefix}_{name}"}).scalar()
            conn.commit()
        engine.dispose()
        say(f"    pg_terminate_backend: {ended} connection(s) of {name} ended")
    return strike


def amqp_close(name: str) -> Callable:
    def strike(stack, say):
        ports = local_ports(stack.processes[name].pid())
        vhost = quote(stack.vhost.name, safe="")
        closed = 0
        for conn in requests.get(f"{RABBIT_API}/vhosts/{vhost}/connections", timeout=30).json():
            if conn.get("peer_port") in ports:
                requests.delete(f"{RABBIT_API}/connections/{quote(conn['name'], safe='')}",
                                headers={"X-Reason": "fault experiment"}, timeout=30)
                closed += 1
        say(f"    closed {closed} broker connection(s) of {name} (management API)")
    return strike


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (to tell its broker connections)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if columns[9] in inodes:
                ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Experiment:
    name: str
    stage: str
    strike: Callable | None = None  # None: the replay itself is interrupted, then resumed


class Interrupted(Exception):
    """The replay stopped mid-stage (as a person pressing Ctrl-C would stop it)."""


def experiments(smtp_seconds: float = 30.0) -> list[Experiment]:
    found = [Experiment(f"kill:{name}@{stage}", stage, kill(name))
             for stage in STAGES for name in SERVICES]
    found.append(Experiment("kill:all@reports", "reports", kill(*SERVICES)))
    found.append(Experiment("smtp-down@letters", "letters", smtp_down(smtp_seconds)))
    found += [Experiment(f"pg-terminate:{name}@reports", "reports", pg_terminate(name))
              for name in SERVICES]
    found.append(Experiment("amqp-close:evaluation@reports", "reports", amqp_close("evaluation")))
    found += [Experiment(f"interrupt-resume@{stage}", stage)
              for stage in ("submission", "reports", "grants")]
    return found


# --------------------------------------------------------------------------- one replay
@dataclass
class Outcome:
    """What a replay ended with, by scenario ref (ids differ from run to run)."""

    proposals: dict[str, tuple]
    mail: Counter
    resent: Counter  # mail keys whose delivery was tried more than once
    seconds: float
    struck: bool = True
    notes: list = field(default_factory=list)


class Striker:
    """Strikes once, from the runner's progress or the simulated clock, in a thread."""

    def __init__(self, stack, experiment: Experiment | None, say, milestone_at):
        self.stack, self.experiment, self.say = stack, experiment, say
        self.trigger = TRIGGERS[experiment.stage] if experiment else None
        self.fired = threading.Event()
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.trigger and self.trigger.milestone:
            # looked up here, so that a milestone the call lacks fails the experiment
            # instead of a watcher thread that dies unseen and never strikes
            self.at = milestone_at(self.trigger.milestone)
            self._thread = threading.Thread(target=self._watch_clock, daemon=True)
            self._thread.start()

    def observe(self, label: str, done: int, total: int) -> None:
        trigger = self.trigger
        if trigger and trigger.label and label == trigger.label and \
                done >= max(1, int(total * trigger.share)):
            self._fire()

    def _watch_clock(self) -> None:
        at = self.at
        while not self._stop.wait(0.05):
            try:
                if self.stack.clock.now() >= at:
                    self._fire()
                    return
            except Exception:  # the clock file being rewritten: look again
                continue

    def _fire(self) -> None:
        if self.fired.is_set():
            return
        self.fired.set()
        self.say(f"  striking: {self.experiment.name}")
        if self.experiment.strike is None:
            self.finished.set()
            raise Interrupted(self.experiment.name)  # from the runner's own thread
        threading.Thread(target=self._strike, daemon=True).start()

    def _strike(self) -> None:
        try:
            self.experiment.strike(self.stack, self.say)
        finally:
            self.finished.set()

    def stop(self) -> None:
        self._stop.set()
        if self.fired.is_set():
            self.finished.wait(120)


def replay(proposals: int, experts: int, seed: int, experiment: Experiment | None = None,
           say: Callable[[str], None] = print, workers: int = 16,
           scenario: Scenario | None = None) -> Outcome:
    """One replay on a private stack (of ``scenario``, else the synthetic call of that
    size and seed); with ``experiment``, struck once as it says."""
    scenario = scenario or synthetic_scenario(proposals, experts, seed)
    call = load_call_text(scenario.call_yaml)
    started = time.monotonic()
    with private_stack() as stack:
        striker = Striker(stack, experiment, say, lambda key: _milestone(call, key))
        runner = ScenarioRunner(scenario, environment(stack), seed=seed, workers=workers,
                                progress_bar=False, observe=striker.observe,
                                progress=lambda line: None)
        try:
            report = runner.run()
        except Interrupted:
            say("    replay interrupted; resuming it from what the services hold")
            runner = ScenarioRunner(scenario, environment(stack), seed=seed, workers=workers,
                                    progress_bar=False, progress=lambda line: None,
                                    resume=True)
            report = runner.run()
        finally:
            striker.stop()
        outcome = Outcome(*_read(stack, report, runner.refs), time.monotonic() - started,
                          struck=striker.fired.is_set())
    return outcome


def _milestone(call, key: str):
    """The instant of the call's milestone ``key`` (as the timetable names it)."""
    found = [m.at for m in milestones(call) if m.key == key]
    if not found:
        raise KeyError(f"the call's timetable has no milestone {key!r}")
    return found[0]


def _read(stack, report: dict, refs: dict[str, str]) -> tuple[dict, Counter, Counter]:
    proposals = {p["ref"]: (p.get("final_state"), p.get("rank"),
                            None if p.get("total_score") is None else str(p["total_score"]))
                 for p in report["proposals"]}
    by_message = {r["message_id"]: r for r in delivery_log(stack)}
    mail, resent = Counter(), Counter()
    for message in read_messages(stack.smtp.directory):
        row = by_message.get(message["message_id"])
        if row is None:
            key = ("?", message.get("subject"), None)
        else:
            key = (row["recipient"], row["template"], refs.get(row["proposal_id"]))
            if int(row.get("attempts") or 0) > 1:
                resent[key] += 1
        mail[key] += 1
    return proposals, mail, resent


# --------------------------------------------------------------------------- comparing
def compare(clean: Outcome, faulty: Outcome) -> dict:
    refs = set(clean.proposals) | set(faulty.proposals)
    diverged = sorted(ref for ref in refs
                      if clean.proposals.get(ref) != faulty.proposals.get(ref))
    keys = set(clean.mail) | set(faulty.mail)
    lost = {k: clean.mail[k] - faulty.mail[k] for k in keys if clean.mail[k] > faulty.mail[k]}
    extra = {k: faulty.mail[k] - clean.mail[k] for k in keys if faulty.mail[k] > clean.mail[k]}
    explained = sum(min(n, faulty.resent[k]) for k, n in extra.items())
    return {"diverged": len(diverged), "diverged_refs": diverged[:20],
            "lost_mails": sum(lost.values()), "duplicate_mails": sum(extra.values()),
            "explained_duplicate_mails": explained,
            "examples": [list(k) for k in list(lost)[:3] + list(extra)[:3]]}


def run_experiment(clean: Outcome, experiment: Experiment, proposals: int, experts: int,
                   seed: int, say=print) -> dict:
    started = time.monotonic()
    try:
        faulty = replay(proposals, experts, seed, experiment, say)
    except Exception as exc:  # the replay did not survive: the worst outcome, reported
        return {"name": experiment.name, "completed": False, "error": f"{type(exc).__name__}: "
                f"{str(exc)[:300]}", "seconds": round(time.monotonic() - started, 1),
                "diverged": len(clean.proposals), "lost_mails": sum(clean.mail.values()),
                "duplicate_mails": 0, "explained_duplicate_mails": 0}
    return {"name": experiment.name, "completed": True, "struck": faulty.struck,
            "seconds": round(faulty.seconds, 1), **compare(clean, faulty)}


def summarise(results: list[dict], clean_seconds: float, seconds: float) -> dict:
    return {"experiments": results,
            "diverged": sum(r.get("diverged", 0) for r in results),
            "lost_mails": sum(r.get("lost_mails", 0) for r in results),
            "duplicate_mails": sum(r.get("duplicate_mails", 0) for r in results),
            "explained_duplicate_mails": sum(r.get("explained_duplicate_mails", 0)
                                             for r in results),
            "not_completed": [r["name"] for r in results if not r["completed"]],
            # an experiment whose fault never happened proves nothing: it fails the suite
            "not_struck": [r["name"] for r in results if r["completed"] and not r["struck"]],
            "clean_seconds": round(clean_seconds, 1), "seconds": round(seconds, 1),
            "load": load()}


def passed(summary: dict) -> bool:
    return summary["diverged"] == 0 and summary["lost_mails"] == 0 and \
        summary["duplicate_mails"] == summary["explained_duplicate_mails"] and \
        not summary["not_struck"] and not summary["not_completed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=60)
    parser.add_argument("--experts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--smtp-down-seconds", type=float, default=30.0)
    parser.add_argument("--only", action="append", default=[],
                        help="run the experiments whose name matches (fnmatch), e.g. 'kill:*'")
    args = parser.parse_args()
    chosen = [e for e in experiments(args.smtp_down_seconds)
              if not args.only or any(fnmatch.fnmatch(e.name, p) for p in args.only)]
    if not chosen:
        parser.error(f"no experiment matches {args.only}")
    started = time.monotonic()
    print(f"fault suite: {len(chosen)} experiments on a {args.proposals}-proposal call, "
          f"seed {args.seed}; {load()}", flush=True)
    clean = replay(args.proposals, args.experts, args.seed, say=print)
    print(f"[{time.monotonic() - started:6.0f}s] clean run: {len(clean.proposals)} proposals, "
          f"{sum(clean.mail.values())} mails in {clean.seconds:.0f}s", flush=True)
    results = []
    for index, experiment in enumerate(chosen, 1):
        result = run_experiment(clean, experiment, args.proposals, args.experts, args.seed,
                                say=lambda line: print(line, flush=True))
        results.append(result)
        print(f"[{time.monotonic() - started:6.0f}s] {index}/{len(chosen)} {experiment.name}: "
              + (f"diverged {result['diverged']}, lost mails {result['lost_mails']}, duplicate "
                 f"{result['duplicate_mails']} (explained {result['explained_duplicate_mails']})"
                 + ("" if result["struck"] else "; NOT STRUCK: the fault never happened")
                 if result["completed"] else f"did not complete: {result['error']}"), flush=True)
    summary = summarise(results, clean.seconds, time.monotonic() - started)
    print(json.dumps(summary))
    return 0 if passed(summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
