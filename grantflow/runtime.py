"""The local runtime behind ``grantflow up|down|status``: which processes, where."""
from __future__ import annotations

import socket

from kombu import Connection

from grantflow.processes import ServiceProcess
from grantflow.topology import declare_all
from shared.config import SERVICES, env, service_config, var_dir, DEFAULT_AMQP_URI


class NotReady(Exception):
    pass


def processes(names=None) -> list[ServiceProcess]:
    return [ServiceProcess(name, service_config(name), var_dir()) for name in (names or SERVICES)]


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


def up(names=None) -> list[tuple[ServiceProcess, bool]]:
    amqp_uri = env("AMQP_URI", DEFAULT_AMQP_URI)
    check_broker(amqp_uri)
    declare_all(amqp_uri, queue_type=env("QUEUE_TYPE", "classic"),
                retry_delays_ms=[int(d) for d in env("RETRY_DELAYS_MS", "1000,5000,30000").split(",")])
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
    stopped = []
    for proc in processes(names):
        if proc.is_alive():
            proc.stop()
            stopped.append(proc)
    return stopped
