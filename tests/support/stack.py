"""Start Grantflow's services as real processes against a test's own vhost, databases and
SMTP server, and talk to them over HTTP."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import requests

from grantflow.processes import ServiceProcess, stop_all
from grantflow.topology import declare_all
from shared.clock import SimulatedClock
from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.config import service_config
from tests.support.infra import Databases, SmtpServer, Vhost, free_port


class Api:
    """A tiny JSON client bound to one service and one bearer token."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, json=None, **kwargs) -> requests.Response:
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        return requests.request(method, self.base_url + path, json=json,
                                headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Stack:
    RETRY_DELAYS_MS = [100, 200]

    def __init__(self, tmp_path: Path, vhost: Vhost, databases: Databases, smtp: SmtpServer,
                 simulated_clock: bool = True):
        self.tmp_path = tmp_path
        self.vhost = vhost
        self.databases = databases
        self.smtp = smtp
        self.ports: dict[str, int] = {}
        self.processes: dict[str, ServiceProcess] = {}
        self.clock_path = tmp_path / "clock.json"
        self.simulated_clock = simulated_clock
        self.overrides: dict[str, dict] = {}
        if simulated_clock:
            self.clock = SimulatedClock(self.clock_path)
            self.clock.set(datetime(2019, 1, 15, 10, 0, tzinfo=timezone.utc))

    def port(self, name: str) -> int:
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def config(self, name: str) -> dict:
        settings = dict(
            ENV="development",  # the development secret below (shared.auth.check_secret)
            AUTH_SECRET=DEFAULT_DEV_SECRET,
            AMQP_URI=self.vhost.amqp_uri,
            WEB_SERVER_ADDRESS=f"127.0.0.1:{self.port(name)}",
            DATABASE_URL=self.databases.url(name),
            VAR_DIR=str(self.tmp_path / "var"),
            CLOCK=f"file:{self.clock_path}" if self.simulated_clock else "wall",
            EVENT_RETRY={"delays_ms": self.RETRY_DELAYS_MS},
            SMTP={"host": "127.0.0.1", "port": self.smtp.port,
                  "sender": "no-reply@grantflow.test", "lease_seconds": 3},
            SERVICE_URLS={n: self.url(n) for n in
                          ("submission", "evaluation", "grants", "notifications", "operations")})
        settings.update(self.overrides.get(name, {}))  # a test's own settings win
        return service_config(name, **settings)

    def declare_topology(self, services=None) -> None:
        declare_all(self.vhost.amqp_uri, services=services, retry_delays_ms=self.RETRY_DELAYS_MS)

    def start(self, *names: str, env: dict | None = None) -> "Stack":
        started = []
        for name in names:
            proc = ServiceProcess(name, self.config(name), self.tmp_path, env=env)
            self.processes[name] = proc.start()
            started.append(proc)
        for proc in started:
            proc.wait_healthy()
        return self

    def restart(self, name: str, env: dict | None = None) -> ServiceProcess:
        old = self.processes.get(name)
        if old is not None and old.is_alive():
            old.stop()
        return self.start(name, env=env).processes[name]

    def stop_all(self) -> None:
        stop_all(list(self.processes.values()))

    def api(self, name: str, role: str = "operations", email: str = "ops@grantflow.test") -> Api:
        return Api(self.url(name), issue_token(DEFAULT_DEV_SECRET, email, role))

    def logs(self) -> str:
        return "\n".join(f"===== {name}\n{proc.tail_log(60)}"
                         for name, proc in self.processes.items())
