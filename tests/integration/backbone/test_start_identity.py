"""A service's port is its own, and starting one waits for that process's own answer: a
program already listening on the port it was given also answers ``/health`` with 200, and
a test that took that answer for its service sent its requests to the wrong one."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.support.fake_http import JsonHandler
from tests.support.infra import PORT_BLOCK_BASE, PORT_BLOCK_SIZE, PORT_BLOCKS, free_port


class SomeoneElsesService(JsonHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.answer({"service": "submission", "status": "ok", "busy_workers": 0})


def test_a_port_answered_by_another_program_is_not_taken_for_the_service(stack):
    squatter = ThreadingHTTPServer(("127.0.0.1", stack.port("submission")), SomeoneElsesService)
    threading.Thread(target=squatter.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match="exited during start-up"):
            stack.start("submission")
    finally:
        squatter.shutdown()
        squatter.server_close()
    assert "Address already in use" in stack.processes["submission"].tail_log()


def test_a_second_service_told_a_taken_port_fails_instead_of_sharing_it(stack):
    """nameko listened with SO_REUSEPORT: the second would have listened beside the
    first and the kernel would have split the connections between them."""
    stack.start("submission")
    stack.ports["evaluation"] = stack.port("submission")
    with pytest.raises(RuntimeError, match="exited during start-up"):
        stack.start("evaluation")
    assert "Address already in use" in stack.processes["evaluation"].tail_log()
    answers = {stack.api("submission").get("/health").json()["service"] for _ in range(20)}
    assert answers == {"submission"}


def test_a_service_that_answers_as_itself_is_up(stack):
    stack.start("submission")
    health = stack.api("submission").get("/health").json()
    assert health["instance"] == stack.processes["submission"]._instance


def test_test_ports_come_from_this_workers_block_below_the_ephemeral_range():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    low, high = PORT_BLOCK_BASE, PORT_BLOCK_BASE + PORT_BLOCK_SIZE * PORT_BLOCKS
    with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
        ephemeral_low = int(handle.read().split()[0])
    assert high <= ephemeral_low
    blocks = {(port - low) // PORT_BLOCK_SIZE for port in ports}
    assert len(blocks) == 1 and all(low <= port < high for port in ports)
