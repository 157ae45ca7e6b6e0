"""Real infrastructure for integration tests, each test isolated by unique names.

- a RabbitMQ vhost per test, made and removed through the management API;
- PostgreSQL databases per test (``gft_<id>_<service>``), dropped afterwards;
- a real SMTP server process (grantflow.devsmtp) on a free port.
"""
from __future__ import annotations

import itertools
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


# Test servers take ports from a block of their own per pytest-xdist worker, below the
# kernel's ephemeral range (32768-60999 on Linux). Ports drawn with bind(0) came from that
# range, which every worker and every outgoing connection share: two workers could be handed
# the same port, and one test's requests were answered by another test's service (a 404 from
# the wrong service; seen once in a full run).
PORT_BLOCK_BASE, PORT_BLOCK_SIZE, PORT_BLOCKS = 20000, 1500, 8


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...; unset: no xdist
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = PORT_BLOCK_BASE + (index % PORT_BLOCKS) * PORT_BLOCK_SIZE
    return range(start, start + PORT_BLOCK_SIZE)


_block = _port_block()
# a process starts at its own place in its block, so a second run beside this one (a helper's)
# is unlikely to walk the same ports; each port is checked free before it is handed out
_next_ports = itertools.count(os.getpid() % len(_block))


def free_port() -> int:
    """A port nothing listens on (nor keeps in TIME_WAIT) now, not handed out before by
    this process, from this worker's block."""
    for _ in range(len(_block)):
        port = _block[next(_next_ports) % len(_block)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_block}")


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


def postgres_databases(prefix: str) -> set[str]:
    """The names of the PostgreSQL databases starting with ``prefix`` (``_`` taken
    literally): what a stack, a bench or a test left behind."""
    engine = sa.create_engine(normalise_url(f"{PG_URL}/postgres"), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": prefix.replace("_", "\\_") + "%"}).scalars())
    finally:
        engine.dispose()


class Databases:
    """Per-test PostgreSQL databases, one per service, created by the services themselves."""

    def __init__(self):
        self.prefix = f"gft_{uuid.uuid4().hex[:10]}"

    def name(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    def url(self, service: str) -> str:
        # commits do not wait for the WAL's flush to disk: what they lose is what a crash of
        # PostgreSQL itself would lose, which no test makes (they kill services and end
        # database connections); it took the six scenario replays from 100.2 s to 94.0 s
        return f"{PG_URL}/{self.name(service)}?options=-c%20synchronous_commit%3Doff"

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
