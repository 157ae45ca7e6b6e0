"""grantflow.retry against a real HTTP server that is down, restarting, then answers."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from grantflow.retry import IDEMPOTENCY_HEADER, Backoff, request, stable_key

FAST = Backoff(first=0.01, cap=0.05, give_up_after=5)


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests, then 201; remembers the keys."""

    failures = 0
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).seen.append(self.headers.get(IDEMPOTENCY_HEADER))
        status = 503 if len(type(self).seen) <= type(self).failures else 201
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Flaky.failures, Flaky.seen = 0, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_503_is_retried_with_the_same_key(server):
    Flaky.failures = 2
    waits = []
    response = request(None, "POST", server + "/x", backoff=FAST, on_retry=waits.append)
    assert response.status_code == 201
    assert len(Flaky.seen) == 3 and len(set(Flaky.seen)) == 1 and Flaky.seen[0]
    assert len(waits) == 2 and "503" in waits[0]


def test_reads_carry_no_key_and_the_caller_can_choose_one(server):
    request(None, "GET", server + "/x", backoff=FAST)
    request(None, "POST", server + "/x", key="mine", backoff=FAST)
    assert Flaky.seen == [None, "mine"]


def test_a_service_that_stays_down_is_reported_after_the_deadline():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        request(None, "POST", f"http://127.0.0.1:{port}/x",
                backoff=Backoff(first=0.01, cap=0.02, give_up_after=0.2))


def test_a_service_that_keeps_answering_503_gets_its_answer_back(server):
    Flaky.failures = 10**6
    response = request(None, "POST", server + "/x",
                       backoff=Backoff(first=0.01, cap=0.02, give_up_after=0.2))
    assert response.status_code == 503 and len(Flaky.seen) >= 2


def test_stable_keys_name_the_action():
    assert stable_key("seed", 1, "submit") == stable_key("seed", 1, "submit")
    assert stable_key("seed", 1, "submit") != stable_key("seed", 2, "submit")
