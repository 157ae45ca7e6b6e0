"""``grantflow ops`` against a small fake operations API: output and exit codes."""
import threading
from http.server import ThreadingHTTPServer

import pytest

from grantflow import cli
from shared.auth import DEFAULT_DEV_SECRET, authenticate
from tests.support.fake_http import JsonHandler
from tests.support.infra import free_port

OVERVIEW = {
    "call": {"id": "C", "title": "A call", "version": 1},
    "current_stage": {"stage": "evaluation_start", "label": "Evaluation starts",
                      "at": "2019-01-31T23:00:00+00:00"},
    "timetable": [{"key": "evaluation_start", "label": "Evaluation starts",
                   "at": "2019-01-31T23:00:00+00:00", "local": "2019-02-01T00:00:00+01:00",
                   "reached": True, "current": True}],
    "counts": {"proposals": 1, "final": 0, "by_state": {"frozen": 1, "withdrawn": 0},
               "by_final_state": {"withdrawn": 0}},
    "topics": [], "totals": {"grants_signed": 0, "granted_total": "0.00", "letters_sent": 0,
                             "notifications": {"delivered": 0, "failed": 0,
                                               "retrying": 12}}}


class FakeOperations(JsonHandler):
    seen_tokens: list = []

    def do_GET(self):
        self.seen_tokens.append(self.headers.get("Authorization"))
        routes = {"/calls": (200, {"calls": [{"id": "C"}]}),
                  "/calls/C/overview": (200, OVERVIEW),
                  "/proposals/P-1": (404, {"error": "not_found", "message": "no proposal",
                                           "errors": [{"field": "proposal_id",
                                                       "rule": "unknown proposal"}]}),
                  "/calls/C/report": (500, {"error": "internal_error", "message": "boom"})}
        status, body = routes.get(self.path, (404, {"message": "no route"}))
        self.answer(body, status)


@pytest.fixture
def fake_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOperations)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_status_prints_the_current_stage_and_counts(fake_url, capsys, monkeypatch):
    monkeypatch.delenv("GRANTFLOW_TOKEN", raising=False)
    assert cli.main(["ops", "status", "--url", fake_url]) == 0
    out = capsys.readouterr().out
    assert "current stage: Evaluation starts (2019-01-31 23:00 UTC)" in out
    assert "[>] 2019-02-01 00:00  Evaluation starts" in out
    assert "frozen" in out
    assert "0 delivered, 0 failed, 12 retrying" in out  # SMTP down: waiting, not "0 failed"
    # the default token is an operations token signed with the configured secret
    assert authenticate(DEFAULT_DEV_SECRET, FakeOperations.seen_tokens[-1]).role == "operations"


def test_an_unknown_id_is_a_refusal_and_names_the_field(fake_url, capsys):
    # exit codes are the same in every command group: 404 is a refusal (1), not bad input
    assert cli.main(["ops", "proposal", "P-1", "--url", fake_url, "--token", "t"]) == 1
    assert "proposal_id: unknown proposal" in capsys.readouterr().err
    assert FakeOperations.seen_tokens[-1] == "Bearer t"


def test_a_server_error_is_a_failure(fake_url, capsys):
    assert cli.main(["ops", "report", "C", "--url", fake_url]) == 1
    assert "500" in capsys.readouterr().err


def test_a_service_that_does_not_answer_is_down(capsys):
    assert cli.main(["ops", "calls", "--url", f"http://127.0.0.1:{free_port()}"]) == 3
    assert "does not answer" in capsys.readouterr().err


def test_page_url_carries_the_token_in_the_fragment_only(capsys, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_TOKEN", "tok")
    assert cli.main(["ops", "page-url", "--url", "http://127.0.0.1:8100/"]) == 0
    assert capsys.readouterr().out.strip() == "http://127.0.0.1:8100/#token=tok"
