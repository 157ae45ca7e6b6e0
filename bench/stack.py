"""A private Grantflow stack for the benchmarks and the fault suite: the five services as
real processes on their own RabbitMQ vhost, PostgreSQL databases, SMTP server and simulated
clock, torn down afterwards. Built on the test suite's helpers (``tests/support``), with
the settings of a deployment rather than of a test where they change the figures."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import sqlalchemy as sa

from grantflow.scenario.environment import Environment
from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.config import SERVICES
from shared.db.engine import normalise_url
from tests.support.infra import PG_URL, Databases, SmtpServer, Vhost
from tests.support.stack import Stack


def environment(stack: Stack) -> Environment:
    return Environment(service_urls={name: stack.url(name) for name in SERVICES},
                       amqp_uri=stack.vhost.amqp_uri, clock_path=stack.clock_path,
                       retry_delays_ms=stack.RETRY_DELAYS_MS)


class BenchStack(Stack):
    """The test stack with a deployment's mail lease (the tests' 3 s makes a batch give
    back its messages after 1.5 s, which is not what a deployment measures) and its event
    retry delays (the tests' 0.1 s and 0.2 s dead-letter an event within a moment of
    "too many clients" on a shared PostgreSQL: a clean run lost 58 of 679 mails so)."""

    smtp_lease_seconds = 30
    RETRY_DELAYS_MS = [1000, 5000, 30000]

    def config(self, name: str) -> dict:
        config = super().config(name)
        config["SMTP"] = {**config["SMTP"], "lease_seconds": self.smtp_lease_seconds}
        return config


@contextmanager
def private_stack(smtp_lease_seconds: int = 30, keep: bool = False):
    """A started stack (every service), removed on exit unless ``keep``."""
    tmp = tempfile.TemporaryDirectory(prefix="grantflow-bench-")
    vhost, databases = Vhost().create(), Databases()
    smtp = SmtpServer(Path(tmp.name) / "mail").start()
    stack = BenchStack(Path(tmp.name), vhost, databases, smtp)
    stack.smtp_lease_seconds = smtp_lease_seconds
    try:
        stack.declare_topology()
        stack.start(*SERVICES)
        yield stack
    except BaseException:
        print(stack.logs(), file=sys.stderr)  # what the services said before it went wrong
        raise
    finally:
        stack.stop_all()
        smtp.stop()
        if not keep:
            vhost.delete()
            databases.drop_all()
            tmp.cleanup()


#: what the benchmarks keep of a delivery (a 100,000-proposal call sends millions)
DELIVERY_FIELDS = ("message_id", "recipient", "template", "proposal_id", "source_event_id",
                   "status", "attempts", "resend_of")


def delivery_log(stack: Stack) -> list[dict]:
    """Every delivery the notifications service recorded (its operations API, paged),
    with the fields the benchmarks compare."""
    token = issue_token(DEFAULT_DEV_SECRET, "ops@grantflow.test", "operations")
    rows, offset = [], 0
    while True:
        page = requests.get(f"{stack.url('notifications')}/notifications",
                            params={"limit": 500, "offset": offset}, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})
        page.raise_for_status()
        answer = page.json()
        rows += [{name: item.get(name) for name in DELIVERY_FIELDS}
                 for item in answer["items"]]
        offset += len(answer["items"])
        if not answer["items"] or offset >= answer["total"]:
            return rows


def received_message_ids(stack: Stack):
    """The Message-ID of every message the SMTP server kept, in order, read line by line
    (the kept texts of a big call do not fit in memory at once)."""
    path = Path(stack.smtp.directory) / "messages.jsonl"
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)["message_id"]


class Sampler:
    """Samples each service's resident memory and the stack's PostgreSQL connections every
    ``interval`` seconds in a thread; keeps the peaks."""

    def __init__(self, stack: Stack, interval: float = 1.0):
        self.stack = stack
        self.interval = interval
        self.peak_rss_mb: dict[str, float] = {}
        self.pg_connections_max = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._engine = sa.create_engine(normalise_url(PG_URL + "/postgres"),
                                        poolclass=sa.pool.NullPool)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, proc in self.stack.processes.items():
            rss = rss_mb(proc.pid())
            if rss is not None:
                self.peak_rss_mb[name] = max(self.peak_rss_mb.get(name, 0.0), rss)
        try:
            with self._engine.connect() as conn:
                count = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :prefix"),
                    {"prefix": self.stack.databases.prefix + "%"}).scalar()
            self.pg_connections_max = max(self.pg_connections_max, int(count))
        except sa.exc.SQLAlchemyError:
            pass


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process and its children (a service is one process today)."""
    if pid is None:
        return None
    total = 0
    for each in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)
