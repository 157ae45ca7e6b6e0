"""The timetable driver (``grantflow clock advance``, replays) waits for a service that is
restarting and names it, instead of stopping at the first refused connection."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from grantflow.retry import Backoff
from grantflow.timetable import TimetableDriver


class Submission(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        data = json.dumps({"fired": ["publication"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_tick_waits_for_the_submission_service_to_come_back():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    said = []
    driver = TimetableDriver(None, url, "token", "amqp://unused", {"submission": url},
                             say=said.append, backoff=Backoff(first=0.05, cap=0.1,
                                                              give_up_after=20))
    httpd = []

    def start_later():  # the service comes back half a second after the first refusal
        time.sleep(0.5)
        server = ThreadingHTTPServer(("127.0.0.1", port), Submission)
        httpd.append(server)
        server.serve_forever()

    threading.Thread(target=start_later, daemon=True).start()
    try:
        response = driver._request("POST", url + "/timetable/tick")
    finally:
        for server in httpd:
            server.shutdown()
            server.server_close()
    assert response.json() == {"fired": ["publication"]}
    assert said[0].startswith("  the submission service does not answer (POST ")
    assert "ConnectionError" in said[0]
    assert said[-1] == "  the submission service answers again"
    assert len(said) == 2  # once while down, once when back: not a line per attempt
