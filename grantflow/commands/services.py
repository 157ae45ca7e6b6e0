"""``grantflow up | down | status | reset``: the services as separate processes, and a way
back to an empty stack."""
from __future__ import annotations

import sys

from grantflow import runtime


def register(subparsers) -> None:
    up = subparsers.add_parser("up", help="start every service that is not running")
    up.add_argument("services", nargs="*", help="only these services")
    up.set_defaults(func=cmd_up)
    down = subparsers.add_parser("down", help="stop the running services")
    down.add_argument("services", nargs="*")
    down.set_defaults(func=cmd_down)
    status = subparsers.add_parser("status", help="which services are alive and healthy")
    status.set_defaults(func=cmd_status)
    reset = subparsers.add_parser(
        "reset", help="remove this stack's vhost, databases and directory (asks first)",
        description="Stop this stack's services and remove what belongs to it: its RabbitMQ "
                    "vhost (in the shared default vhost '/', only Grantflow's queues and "
                    "exchanges), exactly its databases (<GRANTFLOW_DB_PREFIX>_<service>) and "
                    "what it wrote in GRANTFLOW_VAR (config, log, run, mail, data, clock.json; "
                    "another stack's directory inside it is left alone). The stack is the one "
                    "the GRANTFLOW_* environment names.")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(func=cmd_reset)


def cmd_up(args) -> int:
    try:
        started = runtime.up(args.services or None)
    except runtime.NotReady as exc:
        print(f"grantflow up: {exc}", file=sys.stderr)
        return 3
    for proc, was_running in started:
        state = "already running" if was_running else "started"
        print(f"{proc.name:14} {state:16} pid {proc.pid():<7} {proc.http_url}  log {proc.log_path}")
    return 0


def cmd_down(args) -> int:
    for proc in runtime.down(args.services or None):
        print(f"{proc.name:14} stopped")
    return 0


def cmd_status(args) -> int:
    all_ok = True
    for proc in runtime.processes():
        alive, healthy = proc.is_alive(), proc.is_alive() and proc.healthy()
        all_ok &= healthy
        state = "healthy" if healthy else ("alive, not answering" if alive else "down")
        print(f"{proc.name:14} {state:22} pid {proc.pid() or '-':<7} {proc.http_url}  log {proc.log_path}")
    return 0 if all_ok else 3


def cmd_reset(args) -> int:
    from grantflow import stack

    plan = stack.current_plan()
    print("this removes:\n" + "\n".join(f"  - {line}" for line in plan.lines()))
    if not args.yes:
        if not sys.stdin.isatty():
            print("grantflow reset: not confirmed; run it in a terminal or add --yes",
                  file=sys.stderr)
            return 2
        if input("type 'yes' to go on: ").strip().lower() != "yes":
            print("nothing removed")
            return 1
    try:
        with stack.held("grantflow reset", release_file=True):
            stack.reset(print, recreate=False)
    except stack.StackError as exc:
        print(f"grantflow reset: {exc}", file=sys.stderr)
        return 3
    return 0
