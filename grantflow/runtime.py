"""The local runtime behind ``grantflow up|down|status``: which processes, where."""
from __future__ import annotations

import socket

from kombu import Connection

from grantflow.processes import ServiceProcess, stop_all
from grantflow.topology import declare_all
from shared.clock import ensure_simulated_clock
from shared.config import (DEFAULT_AMQP_URI, SERVICES, clock_setting, env, retry_delays_ms,
                           service_config, var_dir)


class NotReady(Exception):
    pass


#: ``grantflow up`` and the demo run a local development stack unless GRANTFLOW_ENV says
#: otherwise (deployments run ``grantflow deploy run``, production by default)
LOCAL_ENV = "development"


def processes(names=None) -> list[ServiceProcess]:
    return [ServiceProcess(name, service_config(name, ENV=env("ENV", LOCAL_ENV)), var_dir())
            for name in (names or SERVICES)]


def check_broker(amqp_uri: str) -> None:
    try:
        with Connection(amqp_uri, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        raise NotReady(f"RabbitMQ does not answer at {amqp_uri} ({exc}); start it with "
                       "`rabbitmq-server -detached` (Debian package rabbitmq-server)") from None


def port_free(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) != 0


def ensure_clock() -> None:
    """A simulated clock starts at the wall time, standing still, unless already set."""
    ensure_simulated_clock(clock_setting())


def up(names=None) -> list[tuple[ServiceProcess, bool]]:
    amqp_uri = env("AMQP_URI", DEFAULT_AMQP_URI)
    ensure_clock()
    check_broker(amqp_uri)
    declare_all(amqp_uri, queue_type=env("QUEUE_TYPE", "classic"),
                retry_delays_ms=retry_delays_ms())
    result = []
    for proc in processes(names):
        if proc.is_alive():
            result.append((proc, True))
            continue
        if not port_free(proc.config["WEB_SERVER_ADDRESS"]):
            raise NotReady(f"port {proc.config['WEB_SERVER_ADDRESS']} for {proc.name} is taken "
                           "by another program")
        proc.start()
        result.append((proc, False))
    for proc, was_running in result:
        if not was_running:
            proc.wait_healthy()
    return result


def down(names=None) -> list[ServiceProcess]:
    running = [proc for proc in processes(names) if proc.is_alive()]
    stop_all(running)
    return running
