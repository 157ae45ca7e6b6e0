"""A Grantflow stack and its private resources: reset, the local SMTP server.

A stack is what the ``GRANTFLOW_*`` environment names: a RabbitMQ vhost (in
``GRANTFLOW_AMQP_URI``), one database per service (``<GRANTFLOW_DB_PREFIX>_<service>`` on
PostgreSQL, or SQLite files under the directory), and a directory (``GRANTFLOW_VAR``:
config, logs, pid files, the simulated clock, the mail). Several stacks live side by side
on one machine when each has its own vhost, prefix, directory, ``GRANTFLOW_HOST`` (or
ports) and SMTP port.

:func:`reset` empties one stack and touches nothing else: its vhost is deleted (the shared
default vhost ``/`` never is: only Grantflow's own queues and exchanges in it), exactly its
five databases are dropped (not every database sharing the prefix: ``grantflow`` is a
prefix of ``grantflow_demo``), and only the entries a stack writes are removed from its
directory (``var/`` may hold another stack's ``var/demo``).

``grantflow demo`` and ``grantflow scenario run`` reset a private stack of their own
(:func:`private_environment`) before they start; ``grantflow reset`` resets the current one.
Each holds the stack (:func:`held`) while it works, so that a second replay or reset of the
same stack is refused at once instead of emptying the databases under the first one.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import requests

RABBIT_API = os.environ.get("GRANTFLOW_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")
DEFAULT_VHOST = "/"
#: what a stack writes in its directory (shared.config, grantflow.processes, devsmtp)
STACK_ENTRIES = ("config", "log", "run", "mail", "data", "clock.json")
#: names of the queues and exchanges Grantflow declares (shared.messaging.topology)
OWN_PREFIXES = ("evt-", "grantflow.")
OWN_SUFFIX = ".events"  # <service>.events


class StackError(RuntimeError):
    pass


class StackBusy(StackError):
    """Another replay or reset holds the stack."""


def private_environment(name: str) -> dict[str, str]:
    """The settings of a private stack called ``name`` (``demo``, ``scenario``)."""
    return {
        "GRANTFLOW_VAR": f"var/{name}",
        "GRANTFLOW_CLOCK": "simulated",
        "GRANTFLOW_DATABASE": "postgresql",
        "GRANTFLOW_DB_PREFIX": f"grantflow_{name}",
        "GRANTFLOW_AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/grantflow-{name}",
        "GRANTFLOW_SMTP_PORT": "1025",
        "GRANTFLOW_LOG_LEVEL": "WARNING",
    }


def apply_environment(settings: dict[str, str]) -> dict:
    """``settings``, unless the caller set them explicitly."""
    applied = {}
    for key, value in settings.items():
        os.environ.setdefault(key, value)
        applied[key] = os.environ[key]
    return applied


def vhost_of(amqp_uri: str) -> str:
    """The vhost an AMQP URI names (``/`` when it names none)."""
    path = urlparse(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else DEFAULT_VHOST


def _port_open(host: str, port: int) -> bool:
    from grantflow.runtime import port_free
    return not port_free(f"{host}:{port}")


def _smtp_host() -> str:
    return os.environ.get("GRANTFLOW_SMTP_HOST", "127.0.0.1")


# --------------------------------------------------------------------------- what a stack is
@dataclass(frozen=True)
class Plan:
    """What a reset of the current stack removes."""

    vhost: str
    databases: tuple[str, ...]  # PostgreSQL databases (names); SQLite files go with the dir
    pg_url: str | None
    directory: Path
    entries: tuple[Path, ...]  # what exists of STACK_ENTRIES in the directory

    def lines(self) -> list[str]:
        vhost = (f"Grantflow's queues and exchanges in the shared vhost {self.vhost!r} (the "
                 "vhost itself is kept)" if self.vhost == DEFAULT_VHOST
                 else f"RabbitMQ vhost {self.vhost!r}")
        found = [vhost]
        if self.databases:
            found.append(f"PostgreSQL databases {', '.join(self.databases)}")
        found.append(f"in {self.directory}: " + (
            ", ".join(p.name for p in self.entries) if self.entries else "nothing yet"))
        return found


def current_plan() -> Plan:
    from shared.config import DEFAULT_AMQP_URI, SERVICES, database_url, env, var_dir

    urls = [database_url(name) for name in SERVICES]
    postgres = [u for u in urls if u and u.startswith("postgresql")]
    directory = var_dir()
    return Plan(vhost=vhost_of(env("AMQP_URI", DEFAULT_AMQP_URI)),
                databases=tuple(u.rsplit("/", 1)[1] for u in postgres),
                pg_url=postgres[0] if postgres else None, directory=directory,
                entries=tuple(directory / e for e in STACK_ENTRIES if (directory / e).exists()))


# --------------------------------------------------------------------------- who holds it
#: in the stack's directory, not one of STACK_ENTRIES: a reset inside a held stack keeps it
LOCK_NAME = ".held"


@contextmanager
def held(what: str, release_file: bool = False):
    """Hold the current stack for ``what`` (a replay, a reset) until the block ends.

    A second holder of the same directory, in this process or another, gets
    :class:`StackBusy` at once, naming the first: two replays on one stack would reset each
    other's databases and move each other's clock without either noticing. The lock is the
    kernel's (``flock``), so a holder that dies releases it. ``release_file``: remove the
    lock file on the way out (``grantflow reset`` leaves nothing behind)."""
    from shared.config import var_dir

    directory = var_dir()
    path = directory / LOCK_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = _lock(path)
    except OSError as exc:  # a read-only or foreign directory: say which, not a traceback
        raise StackError(f"cannot hold the stack in {directory}: {exc.strerror} "
                         f"({exc.filename or path})") from None
    try:
        os.ftruncate(fd, 0)
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        os.pwrite(fd, f"{what}, pid {os.getpid()}, since {since}\n".encode(), 0)
        yield path
    finally:
        if release_file:
            path.unlink(missing_ok=True)  # still held: who opened it meanwhile re-checks the inode
        os.close(fd)


def _lock(path: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            holder = holder or "by another process"
            raise StackBusy(f"the stack in {path.parent} is in use ({holder}): wait for it "
                            "to end or stop it, then try again") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file as it let go: lock the new one


# --------------------------------------------------------------------------- reset
def reset(say, recreate: bool = True) -> Plan:
    """Stop the stack's services and mail server, then remove its vhost (recreated empty
    when ``recreate``), databases and directory entries; returns what it removed."""
    from grantflow import runtime

    plan = current_plan()
    runtime.down()
    stop_mail_server()
    if recreate:
        busy = [proc.name for proc in runtime.processes()
                if not runtime.port_free(proc.config["WEB_SERVER_ADDRESS"])]
        if busy:
            raise StackError(f"ports of {', '.join(busy)} are taken by another Grantflow stack: "
                             "stop it first (`grantflow down` with that stack's GRANTFLOW_VAR)")
    _reset_broker(plan.vhost, recreate)
    if plan.pg_url:
        from shared.db.engine import drop_postgres_databases
        for name in plan.databases:  # exactly these: LIKE's "_" is a wildcard
            drop_postgres_databases(plan.pg_url, name.replace("_", "\\_"))
    for entry in plan.entries:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if recreate:
        plan.directory.mkdir(parents=True, exist_ok=True)
    elif plan.directory.is_dir() and {p.name for p in plan.directory.iterdir()} <= {LOCK_NAME}:
        (plan.directory / LOCK_NAME).unlink(missing_ok=True)  # ours (held), or none
        plan.directory.rmdir()
    say("reset: " + "; ".join(plan.lines()))
    return plan


def _api(method: str, path: str, **kwargs) -> requests.Response:
    try:
        response = requests.request(method, f"{RABBIT_API}{path}", timeout=30, **kwargs)
    except requests.RequestException as exc:
        raise StackError(f"RabbitMQ's management API does not answer at {RABBIT_API} ({exc}); "
                         "`make demo` enables it (rabbitmq-plugins enable rabbitmq_management)")
    if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
        raise StackError(f"RabbitMQ's management API refused {method} {path}: "
                         f"{response.status_code} {response.text[:200]}")
    return response


def _reset_broker(vhost: str, recreate: bool) -> None:
    quoted = quote(vhost, safe="")
    if vhost == DEFAULT_VHOST:  # shared with everybody: only what Grantflow declared
        for kind in ("queues", "exchanges"):
            for item in _api("GET", f"/{kind}/{quoted}?columns=name").json():
                if _own(item["name"]):
                    _api("DELETE", f"/{kind}/{quoted}/{quote(item['name'], safe='')}")
        return
    _api("DELETE", f"/vhosts/{quoted}")
    if recreate:
        _api("PUT", f"/vhosts/{quoted}")
        _api("PUT", f"/permissions/{quoted}/guest",
             json={"configure": ".*", "write": ".*", "read": ".*"})


def _own(name: str) -> bool:
    """A queue or exchange Grantflow declares (never ``amq.*`` or another program's)."""
    from shared.config import SERVICES
    return name.startswith(OWN_PREFIXES) or name in {f"{s}{OWN_SUFFIX}" for s in SERVICES}


def queues(vhost: str) -> list[dict]:
    """The queues of a vhost (management API: AMQP cannot list them)."""
    return _api("GET", f"/queues/{quote(vhost, safe='')}?columns=name").json()


# --------------------------------------------------------------------------- mail server
def _mail_pid_file() -> Path:
    from shared.config import var_dir
    return var_dir() / "run" / "devsmtp.pid"


def start_mail_server(say) -> str:
    """The stack's local SMTP server, unless one already listens on the port."""
    from shared.config import var_dir
    host, port = _smtp_host(), int(os.environ["GRANTFLOW_SMTP_PORT"])
    if _port_open(host, port):
        return f"the SMTP server already listening on {host}:{port}"
    mail_dir = var_dir() / "mail"
    _mail_pid_file().parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "grantflow.devsmtp", "--host", host,
                                "--port", str(port), "--dir", str(mail_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    _mail_pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + 15
    while not _port_open(host, port):
        if time.monotonic() > deadline or process.poll() is not None:
            raise StackError(f"the local SMTP server did not start on {host}:{port}")
        time.sleep(0.1)
    say(f"local SMTP server on {host}:{port} keeping mail in {mail_dir}")
    return str(mail_dir)


def stop_mail_server() -> None:
    try:
        pid = int(_mail_pid_file().read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        pass
    _mail_pid_file().unlink(missing_ok=True)


# --------------------------------------------------------------------------- a run on it
@contextmanager
def running(say, keep_running: bool = False, fresh: bool = True, what: str = "a replay"):
    """Hold the current stack for ``what`` (:func:`held`), reset it (unless not ``fresh``:
    a resumed run continues from what it holds), start its SMTP server and services, yield
    the mail directory; afterwards stop them again unless ``keep_running``."""
    from grantflow import runtime
    from shared.config import var_dir

    with held(what):
        if fresh:
            reset(say)
        mail = start_mail_server(say)
        try:
            runtime.ensure_clock()
            for proc, was_running in runtime.up():
                if not was_running:
                    say(f"  {proc.name:14} pid {proc.pid():<7} {proc.http_url}  "
                        f"log {proc.log_path}")
            yield mail
        finally:
            if keep_running:
                say(f"services left running: GRANTFLOW_VAR={var_dir()} grantflow status | down")
            else:
                runtime.down()
                stop_mail_server()
