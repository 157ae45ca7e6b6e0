"""``grantflow grants``: requests it makes, tokens it sends, exit codes, against a stub
HTTP server on loopback (the real service is exercised by the integration tests)."""
import json
import threading
from http.server import HTTPServer

import pytest

from grantflow.cli import main
from shared.auth import DEFAULT_DEV_SECRET, decode_claims
from tests.support.fake_http import JsonHandler

FILE = {"grant_id": "GRANT-P1", "proposal_id": "P1", "acronym": "NET", "topic_id": "T1",
        "rank": 1, "state": "data_confirmed", "max_grant": "900000.00", "end_reason": None,
        "next_step": {"party": "coordinator", "action": "sign", "description": "sign",
                      "path": "/grants/GRANT-P1/sign", "due_at": "2019-12-28T09:00:00+00:00"},
        "payment_orders": []}


class Stub(JsonHandler):
    replies: dict = {}
    seen: list = []

    def _reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        token = self.headers["Authorization"].removeprefix("Bearer ")
        claims = decode_claims(DEFAULT_DEV_SECRET, token)
        Stub.seen.append((self.command, self.path, body, claims["role"], claims["sub"]))
        status, data = Stub.replies.get((self.command, self.path.split("?")[0]), (404, {
            "error": "not_found", "message": "no such thing",
            "errors": [{"field": "grant_id", "rule": "unknown, or not one of yours"}]}))
        self.answer(data, status)

    do_GET = do_POST = _reply


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.delenv("GRANTFLOW_TOKEN", raising=False)
    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    Stub.replies, Stub.seen = {}, []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def run(url, *args) -> int:
    return main(["grants", *args, "--url", url])


def test_a_coordinator_step_sends_an_applicant_token_and_prints_the_next_step(stub, capsys):
    Stub.replies[("POST", "/grants/GRANT-P1/confirm")] = (200, FILE)
    assert run(stub, "confirm", "GRANT-P1", "--as", "Coord@P1.example.org") == 0
    assert Stub.seen == [("POST", "/grants/GRANT-P1/confirm", {}, "applicant",
                          "coord@p1.example.org")]
    out = capsys.readouterr().out
    assert "data_confirmed" in out and "POST /grants/GRANT-P1/sign" in out


def test_decline_sends_the_reason_and_list_filters_as_operations(stub, capsys):
    Stub.replies[("POST", "/grants/GRANT-P1/decline")] = (200, {**FILE, "state": "declined",
                                                               "next_step": None})
    Stub.replies[("GET", "/grants")] = (200, {"grants": [FILE]})
    assert run(stub, "decline", "GRANT-P1", "--as", "c@x.org", "--reason", "no partner") == 0
    capsys.readouterr()
    assert run(stub, "list", "--topic", "T1", "--state", "invited", "--json") == 0
    (_, _, body, _, _), (_, path, _, role, _) = Stub.seen
    assert body == {"reason": "no partner"}
    assert path == "/grants?topic_id=T1&state=invited" and role == "operations"
    assert json.loads(capsys.readouterr().out) == {"grants": [FILE]}


@pytest.mark.parametrize("status,code", [(404, 1), (409, 1), (403, 1), (422, 2), (400, 2),
                                         (500, 1), (503, 3)])
def test_refusals_map_to_exit_codes_and_name_field_and_rule(stub, capsys, status, code):
    Stub.replies[("POST", "/grants/GRANT-P1/authority-sign")] = (status, {
        "error": "e", "message": "refused", "errors": [{"field": "state", "rule": "order"}]})
    assert run(stub, "authority-sign", "GRANT-P1") == code
    if status < 500:
        assert "state: order" in capsys.readouterr().err


def test_a_service_that_does_not_answer_is_exit_code_3(capsys):
    assert main(["grants", "timing", "--url", "http://127.0.0.1:9"]) == 3
    assert "does not answer" in capsys.readouterr().err


def test_bad_arguments_are_exit_code_2():
    with pytest.raises(SystemExit) as exited:
        main(["grants", "list", "--state", "pending"])
    assert exited.value.code == 2
