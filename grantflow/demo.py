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
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

DEMO_ENV = {
    "GRANTFLOW_VAR": "var/demo",
    "GRANTFLOW_CLOCK": "simulated",
    "GRANTFLOW_DATABASE": "postgresql",
    "GRANTFLOW_DB_PREFIX": "grantflow_demo",
    "GRANTFLOW_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/grantflow-demo",
    "GRANTFLOW_SMTP_PORT": "1025",
    "GRANTFLOW_LOG_LEVEL": "WARNING",
}
RABBIT_API = os.environ.get("GRANTFLOW_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")


class DemoError(RuntimeError):
    pass


def apply_environment() -> dict:
    """The demo's settings, unless the caller set them explicitly."""
    applied = {}
    for key, value in DEMO_ENV.items():
        os.environ.setdefault(key, value)
        applied[key] = os.environ[key]
    return applied


def _port_open(host: str, port: int) -> bool:
    from grantflow.runtime import port_free
    return not port_free(f"{host}:{port}")


def _smtp_host() -> str:
    return os.environ.get("GRANTFLOW_SMTP_HOST", "127.0.0.1")


def reset(say) -> None:
    """Stop the demo's services and empty its vhost, databases and directory."""
    from grantflow import runtime
    from shared.config import SERVICES, database_url, var_dir
    from shared.db.engine import drop_postgres_databases

    runtime.down()
    stop_mail_server()
    busy = [proc.name for proc in runtime.processes()
            if not runtime.port_free(proc.config["WEB_SERVER_ADDRESS"])]
    if busy:
        raise DemoError(f"ports of {', '.join(busy)} are taken by another Grantflow stack: stop "
                        "it first (`grantflow down` with that stack's GRANTFLOW_VAR)")
    vhost = quote(os.environ["GRANTFLOW_AMQP_URI"].rsplit("/", 1)[1], safe="")
    try:
        requests.delete(f"{RABBIT_API}/vhosts/{vhost}", timeout=30)
        requests.put(f"{RABBIT_API}/vhosts/{vhost}", timeout=30).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{vhost}/guest", timeout=30,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    except requests.RequestException as exc:
        raise DemoError(f"RabbitMQ's management API does not answer at {RABBIT_API} ({exc}); "
                        "`make demo` enables it (rabbitmq-plugins enable rabbitmq_management)")
    url = database_url(SERVICES[0])
    if url:  # PostgreSQL (the SQLite files go with the directory below)
        prefix = os.environ["GRANTFLOW_DB_PREFIX"].replace("_", "\\_")  # LIKE's "_" is a wildcard
        drop_postgres_databases(url, f"{prefix}\\_%")
    shutil.rmtree(var_dir(), ignore_errors=True)
    var_dir().mkdir(parents=True)
    say(f"reset: vhost {vhost}, databases {os.environ['GRANTFLOW_DB_PREFIX']}_*, {var_dir()}")


def _mail_pid_file() -> Path:
    from shared.config import var_dir
    return var_dir() / "run" / "devsmtp.pid"


def start_mail_server(say) -> str:
    """The demo's local SMTP server, unless one already listens on the port."""
    from shared.config import var_dir
    host, port = _smtp_host(), int(os.environ["GRANTFLOW_SMTP_PORT"])
    if _port_open(host, port):
        return f"the SMTP server already listening on {host}:{port}"
    mail_dir = var_dir() / "mail"
    _mail_pid_file().parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "grantflow.devsmtp", "--host", host,
                                "--port", str(port), "--dir", str(mail_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    _mail_pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + 15
    while not _port_open(host, port):
        if time.monotonic() > deadline or process.poll() is not None:
            raise DemoError(f"the local SMTP server did not start on {host}:{port}")
        time.sleep(0.1)
    say(f"local SMTP server on {host}:{port} keeping mail in {mail_dir}")
    return str(mail_dir)


def stop_mail_server() -> None:
    try:
        pid = int(_mail_pid_file().read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        pass
    _mail_pid_file().unlink(missing_ok=True)


def run_demo(proposals: int, experts: int, seed: int, json_path: str | None,
             keep_running: bool, say=print, resume: bool = False,
             workers: int | None = None) -> dict:
    """The whole replay on the demo's private stack. ``resume``: continue an interrupted
    demo of the same size and seed from what its services hold (no reset; services and the
    mail server that are not running are started)."""
    apply_environment()
    from grantflow import runtime
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
    else:
        reset(say)
    mail = start_mail_server(say)
    try:
        scenario = synthetic_scenario(proposals, experts, seed)
        say(f"scenario {scenario.name}: {len(scenario.proposals)} proposals, "
            f"{len(scenario.experts)} experts")
        runtime.ensure_clock()
        for proc, running in runtime.up():
            if not running:
                say(f"  {proc.name:14} pid {proc.pid():<7} {proc.http_url}  log {proc.log_path}")
        report = ScenarioRunner(scenario, Environment.from_env(), progress=say, seed=seed,
                                resume=resume, workers=workers or DEFAULT_WORKERS).run()
        report["demo"] = {"proposals": proposals, "experts": experts, "seed": seed,
                          "seconds": round(time.monotonic() - started, 1), "mail": mail}
        print_summary(report, say)
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
