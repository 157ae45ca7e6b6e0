"""Where a scenario runs: the services' URLs, the broker, the shared clock, the token secret.

Built from the ``GRANTFLOW_*`` environment for the CLI and the demo, or from a test's stack.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.auth import DEFAULT_DEV_SECRET
from shared.clock import SimulatedClock
from shared.config import (DEFAULT_AMQP_URI, SERVICES, base_url, env, retry_delays_ms,
                           var_dir)


@dataclass
class Environment:
    service_urls: dict[str, str]
    amqp_uri: str
    clock_path: Path
    auth_secret: str = DEFAULT_DEV_SECRET
    retry_delays_ms: list[int] = field(default_factory=list)

    @property
    def clock(self) -> SimulatedClock:
        return SimulatedClock(self.clock_path)

    @classmethod
    def from_env(cls) -> "Environment":
        return cls(service_urls={name: base_url(name) for name in SERVICES},
                   amqp_uri=env("AMQP_URI", DEFAULT_AMQP_URI),
                   clock_path=var_dir() / "clock.json",
                   auth_secret=env("AUTH_SECRET", DEFAULT_DEV_SECRET),
                   retry_delays_ms=retry_delays_ms())
