"""A service told to stop (SIGTERM: grantflow down, a pod ended) while the broker is away
stops by itself and exits 0. Its queue consumer used to wait for a consume thread caught
in kombu's endless reconnect loop, and the service ignored SIGTERM until it was killed.
Two outages: the broker refuses the service (its user deleted: kombu's run loop fails
and starts again) and the broker cannot be reached at all (the service talks to it
through a TCP forwarder that is then killed: kombu retries the connection for ever)."""
from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from urllib.parse import quote

import pytest
import requests

from grantflow.processes import stop_all
from tests.support.infra import RABBIT_API, RABBIT_HOST, eventually, free_port

pytestmark = [pytest.mark.integration]


def test_sigterm_while_the_broker_refuses_the_service_stops_it_cleanly(stack):
    vhost = quote(stack.vhost.name, safe="")
    user = quote(f"{stack.vhost.name}-away", safe="")
    password = uuid.uuid4().hex
    requests.put(f"{RABBIT_API}/users/{user}", json={"password": password, "tags": ""},
                 timeout=10).raise_for_status()
    try:
        requests.put(f"{RABBIT_API}/permissions/{vhost}/{user}", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        stack.overrides["operations"] = {
            "AMQP_URI": f"amqp://{user}:{password}@{RABBIT_HOST}/{vhost}"}
        service = stack.start("operations").processes["operations"]
    finally:
        requests.delete(f"{RABBIT_API}/users/{user}", timeout=10)
    eventually(lambda: "Connection to broker lost" in service.tail_log(200),
               message="the service never tried to reconnect")

    stop_all([service], timeout=20)

    # killed after the timeout it would be -9
    assert service.process.returncode == 0, service.tail_log(80)
    assert "queue consumer stopped while the broker was away" in service.tail_log(80)


@pytest.mark.parametrize("lost", ["consuming", "starting"])
def test_sigterm_while_the_broker_cannot_be_reached_stops_the_service_cleanly(stack, lost):
    """``consuming``: the broker is lost once every queue of the service has its consumer;
    ``starting``: as soon as the service answers HTTP, which can be before its queue
    consumer has connected (one run of this test found it so: nameko's own stop failed
    there too, at its second entrypoint)."""
    port = free_port()
    forwarder = subprocess.Popen([sys.executable, "-m", "bench.latency_proxy", "--listen",
                                  f"127.0.0.1:{port}", "--to", RABBIT_HOST, "--delay-ms", "0"])
    try:
        eventually(lambda: _listening(port), message="the forwarder never listened")
        stack.overrides["operations"] = {
            "AMQP_URI": stack.vhost.amqp_uri.replace(RABBIT_HOST, f"127.0.0.1:{port}")}
        service = stack.start("operations").processes["operations"]
        if lost == "consuming":
            eventually(lambda: _all_consumed(stack, "--operations."),
                       message="the service's queues never all had their consumer")
    finally:
        forwarder.kill()  # its connections close, and nothing listens there any more
        forwarder.wait()
    eventually(lambda: "Error connecting to broker" in service.tail_log(200),
               message="the service never retried the connection")

    stop_all([service], timeout=20)

    assert service.process.returncode == 0, service.tail_log(80)
    assert "queue consumer stopped while the broker was away" in service.tail_log(80)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _all_consumed(stack, marker: str) -> bool:
    consumers = [q.get("consumers") for q in stack.vhost.queues() if marker in q["name"]]
    return bool(consumers) and all(consumers)
