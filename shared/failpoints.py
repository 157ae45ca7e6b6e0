"""Crash injection for the crash-safety tests: never active unless the environment asks.

``GRANTFLOW_FAILPOINTS=relay.before_publish,consumer.after_commit`` makes the process
SIGKILL itself the first time it reaches a named point: no cleanup, no flush, no ack,
exactly like a machine losing power at that line. A name may be scoped to one event type
with ``name@event_type``.
"""
from __future__ import annotations

import logging
import os
import signal

_log = logging.getLogger(__name__)


def _armed() -> set[str]:
    return {name.strip() for name in os.environ.get("GRANTFLOW_FAILPOINTS", "").split(",")
            if name.strip()}


def failpoint(name: str, event_type: str | None = None) -> None:
    armed = _armed()
    if not armed:
        return
    if name in armed or (event_type and f"{name}@{event_type}" in armed):
        _log.critical("failpoint %s reached: killing process %s", name, os.getpid())
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
