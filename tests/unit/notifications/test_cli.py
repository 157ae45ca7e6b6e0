"""``grantflow notifications``: requests, output and exit codes, against a stand-in HTTP
server on loopback (the real service is exercised in tests/integration/notifications)."""
import json
import socket
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from grantflow.cli import main
from shared.auth import DEFAULT_DEV_SECRET, decode_claims
from tests.support.fake_http import JsonHandler

ROW = {"id": "0c26", "status": "failed", "template": "submission_receipt",
       "recipient": "x@rejected.invalid", "proposal_id": "P-1", "attempts": 1,
       "created_at": "2019-01-31T16:00:00+00:00", "sent_at": None,
       "failed_at": "2019-01-31T16:00:01+00:00", "last_error": "550 5.1.1 no such user"}


class StandIn(JsonHandler):
    seen: list = []

    def _reply(self, status, body):
        self.answer(body, status)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        StandIn.seen.append(("GET", url.path, query, self.headers.get("Authorization")))
        if url.path == "/notifications" and query.get("limit") == ["0"]:
            return self._reply(422, {"error": "validation_failed", "message": "limit",
                                     "errors": [{"field": "limit", "rule": "too small"}]})
        if url.path == "/notifications":
            return self._reply(200, {"items": [ROW], "total": 1, "limit": 100, "offset": 0})
        if url.path == "/notifications/0c26":
            return self._reply(200, {**ROW, "subject": "[AMIF] Receipt", "body": "Dear\n",
                                     "role": "applicant_contact", "resends": []})
        return self._reply(404, {"error": "not_found", "message": "no notification"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        StandIn.seen.append(("POST", self.path, body, self.headers.get("Authorization")))
        if self.path == "/notifications/0c26/resend":
            return self._reply(202, {**ROW, "id": "9f1e", "status": "queued",
                                     "resend_of": "0c26"})
        return self._reply(409, {"error": "conflict", "message": "still queued"})


@pytest.fixture
def service():
    StandIn.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(*args):
    return main(["notifications", *args])


def test_list_prints_each_delivery_with_its_reason_and_sends_an_operations_token(
        service, capsys, monkeypatch):
    monkeypatch.delenv("GRANTFLOW_TOKEN", raising=False)
    assert run("list", "--url", service, "--proposal", "P-1", "--status", "failed") == 0
    out = capsys.readouterr().out
    assert "1 of 1 notification(s)" in out and "550 5.1.1 no such user" in out
    method, path, query, auth = StandIn.seen[0]
    assert query == {"proposal_id": ["P-1"], "status": ["failed"], "limit": ["100"],
                     "offset": ["0"]}
    claims = decode_claims(DEFAULT_DEV_SECRET, auth.split()[1])
    assert claims["role"] == "operations"


def test_an_explicit_token_is_used_as_given(service, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_TOKEN", "from-env")
    assert run("show", "--url", service, "0c26") == 0
    assert run("show", "--url", service, "--token", "given", "0c26") == 0
    assert [seen[3] for seen in StandIn.seen] == ["Bearer from-env", "Bearer given"]


def test_show_prints_the_text_and_json_prints_the_response(service, capsys):
    assert run("show", "--url", service, "0c26") == 0
    assert "Subject: [AMIF] Receipt" in capsys.readouterr().out
    assert run("show", "--url", service, "--json", "0c26") == 0
    assert json.loads(capsys.readouterr().out)["id"] == "0c26"


def test_resend_posts_the_reason_and_reports_the_new_delivery(service, capsys):
    assert run("resend", "--url", service, "0c26", "--reason", "lost") == 0
    assert "resend queued as 9f1e (resend of 0c26)" in capsys.readouterr().out
    assert StandIn.seen[0][:3] == ("POST", "/notifications/0c26/resend", {"reason": "lost"})


@pytest.mark.parametrize("args,code", [
    (("show", "nope"), 1),  # 404: a failure
    (("resend", "nope"), 1),  # 409
    (("list", "--limit", "0"), 2),  # 422: bad input
])
def test_refusals_map_to_exit_codes_and_name_the_field(service, capsys, args, code):
    assert run(args[0], "--url", service, *args[1:]) == code
    if code == 2:
        assert "limit: too small" in capsys.readouterr().err


def test_a_service_that_is_down_exits_3(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert run("list", "--url", f"http://127.0.0.1:{port}") == 3
    assert "not reachable" in capsys.readouterr().err


def test_show_never_prints_a_sent_time_for_a_message_not_sent_yet(service, capsys,
                                                                   monkeypatch):
    retrying = {**ROW, "id": "77aa", "status": "queued", "attempts": 3, "failed_at": None,
                "sent_at": None, "last_error": "ConnectionRefusedError: refused",
                "next_attempt_at": "2019-01-31T16:00:09+00:00", "subject": "[AMIF] Receipt",
                "body": "Dear\n", "role": "applicant_contact", "resends": [],
                "attempt_log": [{"attempt": 1, "started_at": "2019-01-31T16:00:01+00:00",
                                 "outcome": "deferred", "after_interruption": False,
                                 "error": "ConnectionRefusedError: refused"}]}
    monkeypatch.setattr(StandIn, "do_GET", lambda self: self._reply(200, retrying))
    assert run("show", "77aa", "--url", service) == 0
    out = capsys.readouterr().out
    assert "sent at" not in out and "sent_at" not in out
    assert "retrying" in out and "next try at 2019-01-31T16:00:09+00:00" in out
    assert "attempt 1:" in out and "deferred: ConnectionRefusedError" in out
    monkeypatch.setattr(StandIn, "do_GET", lambda self: self._reply(
        200, {"items": [retrying], "total": 1, "limit": 100, "offset": 0}))
    assert run("list", "--url", service) == 0
    listed = capsys.readouterr().out
    assert "retrying" in listed and "queued 2019-01-31T16:00:00+00:00" in listed
