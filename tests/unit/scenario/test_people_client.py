"""The scenario's people ride out a service's transient failure: the same request, with the
same Idempotency-Key, is sent again after a 503 or a 500, and the answer says it was."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

from grantflow.retry import IDEMPOTENCY_HEADER, Backoff
from grantflow.scenario.client import Outages, People
from tests.support.fake_http import JsonHandler


class Flaky(JsonHandler):
    statuses: list = []
    keys: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).keys.append(self.headers.get(IDEMPOTENCY_HEADER))
        status = type(self).statuses.pop(0) if type(self).statuses else 201
        self.answer({"ok": True}, status)


def test_a_500_then_a_503_are_asked_again_with_the_same_key():
    Flaky.statuses, Flaky.keys = [500, 503], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    said = []
    people = People({"grants": f"http://127.0.0.1:{httpd.server_address[1]}"},
                    "a-test-signing-key-of-32-bytes-00",  # shorter keys warn (RFC 7518)
                    backoff=Backoff(first=0.01, cap=0.02, give_up_after=5),
                    outages=Outages(said.append))
    try:
        answer = people.call("grants", "POST", "/grants/G-1/sign", key="sign-G-1")
    finally:
        people.close()
        httpd.shutdown()
        httpd.server_close()
    assert answer.status == 201 and answer.retried and answer.body == {"ok": True}
    assert Flaky.keys == ["sign-G-1"] * 3
    assert said[0].startswith("  the grants service does not answer")
    assert said[-1].startswith("  the grants service answers again")
