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

from bench.autovacuum import Autovacuum
from bench.procstat import cpu_seconds, rss_mb
from grantflow.http import pages_after
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
    stack.autovacuum = None
    try:
        # what a deployment's PostgreSQL does and this machine's does not (bench/autovacuum.py)
        stack.autovacuum = Autovacuum(PG_URL, databases.prefix)
        stack.declare_topology()
        stack.start(*SERVICES)
        stack.autovacuum.start()
        yield stack
    except BaseException:
        print(stack.logs(), file=sys.stderr)  # what the services said before it went wrong
        raise
    finally:
        if stack.autovacuum is not None:
            stack.autovacuum.stop()
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
    """Every delivery the notifications service recorded (its operations API, in pages
    that each start after the last delivery of the page before: by offset, every page
    read every earlier row again, the square of the log's size at a big call), with the
    fields the benchmarks compare."""
    headers = {"Authorization": "Bearer " + issue_token(DEFAULT_DEV_SECRET,
                                                        "ops@grantflow.test", "operations")}

    def fetch(params: dict) -> dict:
        page = requests.get(f"{stack.url('notifications')}/notifications", params=params,
                            timeout=60, headers=headers)
        page.raise_for_status()
        return page.json()

    return [{name: item.get(name) for name in DELIVERY_FIELDS}
            for items in pages_after(fetch, {"limit": 500}) for item in items]


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
    ``interval`` seconds in a thread; keeps the peaks, over the run and per phase
    (:meth:`phase_ended`), so a peak can be traced to the stage that reached it."""

    def __init__(self, stack: Stack, interval: float = 1.0):
        self.stack = stack
        self.interval = interval
        self.peak_rss_mb: dict[str, float] = {}
        self.peak_rss_mb_per_phase: dict[str, dict[str, float]] = {}
        self._phase_peak: dict[str, float] = {}
        self._lock = threading.Lock()
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

    def pg_sessions(self) -> int:
        """PostgreSQL sessions ever opened on the stack's databases (``pg_stat_database``):
        a difference of two readings counts the connections set up in between."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname LIKE "
                ":prefix"), {"prefix": self.stack.databases.prefix + "%"}).scalar())

    def phase_ended(self, phase: str) -> dict[str, float]:
        """The peak resident memory of each service since the previous phase ended (a
        sample taken now included); kept under ``phase``."""
        self.sample()
        with self._lock:
            peaks, self._phase_peak = self._phase_peak, {}
        self.peak_rss_mb_per_phase[phase] = peaks
        return peaks

    def sample(self) -> None:
        for name, proc in self.stack.processes.items():
            rss = rss_mb(proc.pid())
            if rss is not None:
                with self._lock:
                    self.peak_rss_mb[name] = max(self.peak_rss_mb.get(name, 0.0), rss)
                    self._phase_peak[name] = round(max(self._phase_peak.get(name, 0.0), rss), 1)
        try:
            with self._engine.connect() as conn:
                count = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :prefix"),
                    {"prefix": self.stack.databases.prefix + "%"}).scalar()
            self.pg_connections_max = max(self.pg_connections_max, int(count))
        except sa.exc.SQLAlchemyError:
            pass


def cpu_seconds_if_running(pid: int | None, reaped: bool = False) -> float:
    """:func:`bench.procstat.cpu_seconds`, 0 for a process that is not running (a service
    not started, a backend that ended while the machine's processes were listed)."""
    if pid is None:
        return 0.0
    try:
        return cpu_seconds(pid, reaped)
    except OSError:
        return 0.0


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds per process of a run, read at each phase boundary: the services, the
    SMTP server, this benchmark (the runner's clients), and the machine's PostgreSQL (its
    postmaster with every backend, living or reaped) and RabbitMQ. The machine is meant to
    be quiet, so the last two are this run's."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.phases: dict[str, dict[str, float]] = {}
        self._last = self._read()

    def _read(self) -> dict[str, float]:
        totals = {name: cpu_seconds_if_running(proc.pid())
                  for name, proc in self.stack.processes.items()}
        smtp = self.stack.smtp.process
        totals["smtp_server"] = cpu_seconds_if_running(smtp.pid if smtp else None)
        totals["runner"] = cpu_seconds_if_running(os.getpid())
        postgres = set(_pids_named("postgres"))
        masters = [pid for pid in postgres if _parent(pid) not in postgres]
        totals["postgresql"] = sum(cpu_seconds_if_running(pid, reaped=pid in masters)
                                   for pid in postgres)
        totals["rabbitmq"] = sum(cpu_seconds_if_running(pid) for pid in _pids_named("beam.smp"))
        return totals

    def phase_ended(self, phase: str) -> dict[str, float]:
        """Adds what each process spent since the last phase ended to ``phase``; returns it."""
        now = self._read()
        spent = {name: round(now[name] - self._last.get(name, 0.0), 1) for name in now}
        previous = self.phases.get(phase, {})
        self.phases[phase] = {name: round(previous.get(name, 0.0) + value, 1)
                              for name, value in spent.items()}
        self._last = now
        return spent

    def totals(self) -> dict[str, float]:
        summed: dict[str, float] = {}
        for spent in self.phases.values():
            for name, value in spent.items():
                summed[name] = round(summed.get(name, 0.0) + value, 1)
        return summed


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)
