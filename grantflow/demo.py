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
from grantflow.stack import StackError, reset, start_mail_server, stop_mail_server

DEMO_ENV = stack.private_environment("demo")


# the demo's private stack (its reset and mail server) lives in grantflow.stack
DemoError = StackError


def apply_environment() -> dict:
    """The demo's settings, unless the caller set them explicitly."""
    return stack.apply_environment(DEMO_ENV)


def run_demo(proposals: int, experts: int, seed: int, json_path: str | None,
             keep_running: bool, say=print) -> dict:
    apply_environment()
    from grantflow import runtime
    from grantflow.pages import demo_pages
    from grantflow.scenario.environment import Environment
    from grantflow.scenario.runner import ScenarioRunner
    from grantflow.scenario.summary import print_summary
    from grantflow.scenario.synthetic import synthetic_scenario
    from shared.config import var_dir

    started = time.monotonic()
    reset(say)
    mail = start_mail_server(say)
    try:
        scenario = synthetic_scenario(proposals, experts, seed)
        say(f"scenario {scenario.name}: {len(scenario.proposals)} proposals, "
            f"{len(scenario.experts)} experts")
        runtime.ensure_clock()
        for proc, _ in runtime.up():
            say(f"  {proc.name:14} pid {proc.pid():<7} {proc.http_url}  log {proc.log_path}")
        report = ScenarioRunner(scenario, Environment.from_env(), progress=say, seed=seed).run()
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
    finally:
        if keep_running:
            say(f"services left running: GRANTFLOW_VAR={var_dir()} grantflow status | down")
        else:
            runtime.down()
            stop_mail_server()


def _count_mail(directory: str) -> int:
    from grantflow.devsmtp import read_messages
    return len(read_messages(directory))
