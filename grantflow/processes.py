"""Run services as separate processes (``grantflow.launch``, nameko's ``run`` without its
command line): used by ``grantflow up|down|status`` and by the integration tests (which
need real processes they can SIGKILL)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from shared.config import INSTANCE_ENV, SERVICE_CLASSES


def service_argv(config_path: Path, service_class: str) -> list[str]:
    """The command that runs one service: ``nameko run`` through this interpreter's
    ``grantflow.launch`` (which skips nameko's command-line module; see there)."""
    return [sys.executable, "-m", "grantflow.launch", "--config", str(config_path),
            service_class]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600) in a directory only its owner can list
    (0700): a service's config holds the token secret and the broker and database
    credentials. Modes are set on create and again on existing paths."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


@dataclass
class ServiceProcess:
    """One service process with its config file, log file and pid file under ``run_dir``."""

    name: str
    config: dict
    run_dir: Path
    env: dict | None = None
    process: subprocess.Popen | None = None
    #: "module:Class" to run instead of the service's own class (benchmarks)
    service_class: str | None = None
    _terminated: int | None = None  # the pid SIGTERM was sent to
    _terminated_at: float | None = None  # when (time.monotonic())
    _instance: str | None = None  # the name the process started last was given

    @property
    def config_path(self) -> Path:
        return self.run_dir / "config" / f"{self.name}.yaml"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.run_dir / "run" / f"{self.name}.pid"

    @property
    def http_url(self) -> str:
        return f"http://{self.config['WEB_SERVER_ADDRESS']}"

    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        try:
            return int(self.pid_path.read_text())
        except (OSError, ValueError):
            return None

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        pid = self.pid()
        return pid is not None and _alive(pid)

    def start(self, extra_env: dict | None = None) -> "ServiceProcess":
        for path in (self.log_path, self.pid_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_private(self.config_path, yaml.safe_dump(self.config, sort_keys=True))
        self._instance = uuid.uuid4().hex
        env = {**os.environ, **(self.env or {}), **(extra_env or {}),
               INSTANCE_ENV: self._instance}
        # eventlet's once-per-process deprecation notice is known; keep logs readable
        env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::Warning:eventlet")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            service_argv(self.config_path, self.service_class or SERVICE_CLASSES[self.name]),
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            cwd=os.getcwd())
        log.close()
        self.pid_path.write_text(str(self.process.pid))
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log_path}:\n"
                                   + self.tail_log())
            try:
                if self._answers_health(timeout=1):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s; see {self.log_path}")

    def healthy(self) -> bool:
        try:
            return self._answers_health(timeout=2)
        except requests.RequestException:
            return False

    def _answers_health(self, timeout: float) -> bool:
        """The service is up and it is this process that answers: a program that already
        held the port (another test's service, say) also says 200, and this process then
        fails to listen and exits. A process this object did not start (found by its pid
        file) is taken on its word."""
        response = requests.get(f"{self.http_url}/health", timeout=timeout)
        if response.status_code != 200:
            return False
        if self._instance is None:
            return True
        try:
            return response.json().get("instance") == self._instance
        except ValueError:
            return False

    def terminate(self) -> None:
        """Ask the process to shut down (SIGTERM) without waiting for it. Only once: nameko
        stops its extensions again on a second SIGTERM, and a timer stopped twice raises and
        leaves the process hanging."""
        pid = self.pid()
        if pid is not None and self.is_alive() and self._terminated != pid:
            os.kill(pid, signal.SIGTERM)
            self._terminated, self._terminated_at = pid, time.monotonic()

    def stop(self, timeout: float = 20.0) -> None:
        pid = self.pid()
        if pid is None or not self.is_alive():
            self._forget()
            return
        self.terminate()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_alive():
            time.sleep(0.1)
        if self.is_alive():
            waited = time.monotonic() - (self._terminated_at or deadline - timeout)
            print(f"{self.name} did not stop within {waited:.0f}s of SIGTERM: killed",
                  file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
        self.wait_dead()
        self._forget()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no ack (the crash the tests simulate)."""
        pid = self.pid()
        if pid is not None and self.is_alive():
            os.kill(pid, signal.SIGKILL)
        self.wait_dead()

    def wait_dead(self, timeout: float = 30.0) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_alive():
            time.sleep(0.1)

    def _forget(self) -> None:
        try:
            self.pid_path.unlink()
        except FileNotFoundError:
            pass

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_all(processes: list[ServiceProcess], timeout: float = 20.0) -> None:
    """Stop several processes at once: all are asked first, then each is waited for until
    one common deadline (a process still alive then is killed). Each one's own full timeout
    made the stop of n stuck processes take n times as long: services whose broker had
    closed their connections took 20 s each."""
    for proc in processes:
        proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in processes:
        proc.stop(max(0.0, deadline - time.monotonic()))
