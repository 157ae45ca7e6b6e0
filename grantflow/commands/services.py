"""``grantflow up | down | status``: the services as separate processes."""
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
