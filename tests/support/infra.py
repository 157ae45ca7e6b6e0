"""Real infrastructure for integration tests, each test isolated by unique names.

- a RabbitMQ vhost per test, made and removed through the management API;
- PostgreSQL databases per test (``gft_<id>_<service>``), dropped afterwards;
- a real SMTP server process (grantflow.devsmtp) on a free port.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import requests
import sqlalchemy as sa

from shared.db.engine import drop_postgres_databases, normalise_url

RABBIT_API = os.environ.get("GRANTFLOW_TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")
RABBIT_HOST = os.environ.get("GRANTFLOW_TEST_RABBIT_HOST", "127.0.0.1:5672")
PG_URL = os.environ.get("GRANTFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Vhost:
    def __init__(self):
        self.name = f"gf-test-{uuid.uuid4().hex[:10]}"
        self.amqp_uri = f"amqp://guest:guest@{RABBIT_HOST}/{quote(self.name, safe='')}"

    def create(self) -> "Vhost":
        vhost = quote(self.name, safe="")
        requests.put(f"{RABBIT_API}/vhosts/{vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{vhost}/guest",
                     json={"configure": ".*", "write": ".*", "read": ".*"},
                     timeout=10).raise_for_status()
        return self

    def delete(self) -> None:
        requests.delete(f"{RABBIT_API}/vhosts/{quote(self.name, safe='')}", timeout=30)

    def queue(self, name: str) -> dict:
        response = requests.get(
            f"{RABBIT_API}/queues/{quote(self.name, safe='')}/{quote(name, safe='')}", timeout=10)
        response.raise_for_status()
        return response.json()

    def queues(self) -> list[dict]:
        response = requests.get(f"{RABBIT_API}/queues/{quote(self.name, safe='')}", timeout=10)
        response.raise_for_status()
        return response.json()


class Databases:
    """Per-test PostgreSQL databases, one per service, created by the services themselves."""

    def __init__(self):
        self.prefix = f"gft_{uuid.uuid4().hex[:10]}"

    def url(self, service: str) -> str:
        return f"{PG_URL}/{self.prefix}_{service}"

    def engine(self, service: str) -> sa.Engine:
        return sa.create_engine(normalise_url(self.url(service)), poolclass=sa.pool.NullPool)

    def drop_all(self) -> None:
        drop_postgres_databases(PG_URL, f"{self.prefix}_%")


class SmtpServer:
    """grantflow.devsmtp in its own process; stop() and start() simulate an outage."""

    def __init__(self, directory: Path, reject_domains=("rejected.invalid",)):
        self.directory = directory
        self.port = free_port()
        self.reject_domains = reject_domains
        self.process: subprocess.Popen | None = None

    def start(self) -> "SmtpServer":
        args = [sys.executable, "-m", "grantflow.devsmtp", "--port", str(self.port),
                "--dir", str(self.directory)]
        for domain in self.reject_domains:
            args += ["--reject-domain", domain]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise TimeoutError("test SMTP server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def messages(self) -> list[dict]:
        from grantflow.devsmtp import read_messages
        return read_messages(self.directory)


def eventually(check, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Poll ``check`` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {message} (last: {last!r})")


def stays(check, duration: float = 2.0, interval: float = 0.2, message: str = ""):
    """Assert ``check`` stays truthy for ``duration`` (used to prove nothing more arrives)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        value = check()
        assert value, f"condition broke: {message} ({value!r})"
        time.sleep(interval)
