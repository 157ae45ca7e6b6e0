"""Make sure the local servers Grantflow needs answer, starting them if installed.

    python -m grantflow.infra            # RabbitMQ (+ management API) and PostgreSQL

Used by ``make demo`` and ``make test`` on a fresh machine. When a server is not installed
it says exactly what is missing and how to get it, and exits 3.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

RABBIT = ("127.0.0.1", 5672)
RABBIT_MANAGEMENT = ("127.0.0.1", 15672)
POSTGRES = ("127.0.0.1", 5432)


class Missing(Exception):
    pass


def answers(address: tuple[str, int], timeout: float = 1.0) -> bool:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex(address) == 0


def wait_for(address: tuple[str, int], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(address):
            return
        time.sleep(0.5)
    raise Missing(f"{what} was started but does not answer on {address[0]}:{address[1]} "
                  f"after {seconds:.0f}s; look at its log")


def _run(command: list[str]) -> None:
    print("  $ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                   timeout=300)


def ensure_rabbitmq() -> None:
    if not answers(RABBIT):
        if not shutil.which("rabbitmq-server"):
            raise Missing("RabbitMQ is not running on 127.0.0.1:5672 and not installed. "
                          "Install it (Debian/Ubuntu: `apt-get install rabbitmq-server`) "
                          "or point GRANTFLOW_AMQP_URI at a broker.")
        print("starting RabbitMQ", flush=True)
        _run(["rabbitmq-server", "-detached"])
        wait_for(RABBIT, "RabbitMQ")
    if not answers(RABBIT_MANAGEMENT):
        # the integration tests make one vhost per test through the management API
        if not shutil.which("rabbitmq-plugins"):
            raise Missing("RabbitMQ's management API (127.0.0.1:15672) is off and "
                          "rabbitmq-plugins is not on PATH to enable it.")
        print("enabling RabbitMQ's management plugin", flush=True)
        _run(["rabbitmq-plugins", "enable", "rabbitmq_management"])
        wait_for(RABBIT_MANAGEMENT, "RabbitMQ management API")


def ensure_postgres() -> None:
    if answers(POSTGRES):
        return
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if not versions or not shutil.which("pg_ctlcluster"):
        raise Missing("PostgreSQL is not running on 127.0.0.1:5432 and no local cluster is "
                      "installed. Install it (Debian/Ubuntu: `apt-get install postgresql`) with "
                      "trust authentication for 127.0.0.1, or set GRANTFLOW_PG_URL.")
    print("starting PostgreSQL", flush=True)
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"])
    wait_for(POSTGRES, "PostgreSQL")


def main() -> int:
    try:
        ensure_rabbitmq()
        ensure_postgres()
    except Missing as exc:
        print(f"grantflow: {exc}", file=sys.stderr)
        return 3
    except subprocess.CalledProcessError as exc:
        print(f"grantflow: `{' '.join(exc.cmd)}` failed with exit code {exc.returncode}",
              file=sys.stderr)
        return 3
    print("RabbitMQ, its management API and PostgreSQL answer", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
