"""Crash injection for the crash-safety tests: never active unless the environment asks.

``GRANTFLOW_FAILPOINTS=relay.before_publish,consumer.after_commit`` makes the process
SIGKILL itself the first time it reaches a named point: no cleanup, no flush, no ack,
exactly like a machine losing power at that line. :func:`fault` points raise
:class:`InjectedFault` instead, every time (a bug until the process is redeployed without
it). A name may be scoped to one event type with ``name@event_type``, and a fault to one
event with ``name@event_type/correlation_id`` (one bad event among good ones).
"""
from __future__ import annotations

import logging
import os
import signal

_log = logging.getLogger(__name__)


def _armed() -> set[str]:
    return {name.strip() for name in os.environ.get("GRANTFLOW_FAILPOINTS", "").split(",")
            if name.strip()}


class InjectedFault(RuntimeError):
    """Raised by an armed :func:`fault` point."""


def _is_armed(name: str, event_type: str | None, correlation_id: str | None = None) -> bool:
    armed = _armed()
    return bool(armed) and (name in armed or (event_type is not None and (
        f"{name}@{event_type}" in armed
        or f"{name}@{event_type}/{correlation_id}" in armed)))


def fault(name: str, event_type: str | None = None, correlation_id: str | None = None) -> None:
    if _is_armed(name, event_type, correlation_id):
        raise InjectedFault(f"injected fault {name} ({event_type})")


def failpoint(name: str, event_type: str | None = None) -> None:
    if _is_armed(name, event_type):
        _log.critical("failpoint %s reached: killing process %s", name, os.getpid())
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
