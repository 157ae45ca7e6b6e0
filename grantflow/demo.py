"""``grantflow demo``: replay AMIF-2018-AG-INTE end to end on a fresh, private stack.

The demo keeps to itself so that it can start from nothing every time and never touch a
stack someone is using: its own RabbitMQ vhost (``grantflow-demo``), its own PostgreSQL
databases (``grantflow_demo_<service>``), its own directory (``var/demo``: config, logs,
the simulated clock, the mail). It generates a synthetic scenario (deterministic per seed),
runs it through the real services with :class:`grantflow.scenario.runner.ScenarioRunner`,
prints a readable summary and writes the JSON report.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from grantflow import stack
from grantflow.stack import StackError

DEMO_ENV = stack.private_environment("demo")


# the demo's private stack (its reset and mail server) lives in grantflow.stack
DemoError = StackError


def apply_environment() -> dict:
    """The demo's settings, unless the caller set them explicitly."""
    return stack.apply_environment(DEMO_ENV)


def run_demo(proposals: int, experts: int, seed: int, json_path: str | None,
             keep_running: bool, say=print, resume: bool = False,
             workers: int | None = None) -> dict:
    """The whole replay on the demo's private stack. ``resume``: continue an interrupted
    demo of the same size and seed from what its services hold (no reset; services and the
    mail server that are not running are started)."""
    apply_environment()
    from grantflow.pages import demo_pages
    from grantflow.scenario.environment import Environment
    from grantflow.scenario.runner import DEFAULT_WORKERS, ScenarioRunner
    from grantflow.scenario.summary import print_summary
    from grantflow.scenario.synthetic import synthetic_scenario
    from shared.config import var_dir

    started = time.monotonic()
    if resume:
        if not (var_dir() / "clock.json").exists():
            raise DemoError(f"nothing to resume in {var_dir()}: no demo ran there")
        say(f"resuming the demo in {var_dir()}")
    with stack.running(say, keep_running=keep_running, fresh=not resume,
                       what="grantflow demo" + (" --resume" if resume else "")) as mail:
        scenario = synthetic_scenario(proposals, experts, seed)
        say(f"scenario {scenario.name}: {len(scenario.proposals)} proposals, "
            f"{len(scenario.experts)} experts")
        report = ScenarioRunner(scenario, Environment.from_env(), progress=say, seed=seed,
                                resume=resume, workers=workers or DEFAULT_WORKERS).run()
        report["demo"] = {"proposals": proposals, "experts": experts, "seed": seed,
                          "seconds": round(time.monotonic() - started, 1), "mail": mail}
        print_summary(report, say)
        report["pages"] = demo_pages(scenario, report, say)
        if json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(json.dumps(report, indent=2, default=str))
            say(f"JSON report written to {json_path}")
        say(f"mail went to {mail}" + (f" ({_count_mail(mail)} messages)" if Path(mail).is_dir()
                                      else ""))
        say(f"done in {time.monotonic() - started:.0f}s")
        return report


def _count_mail(directory: str) -> int:
    from grantflow.devsmtp import read_messages
    return len(read_messages(directory))
