"""grantflow.http: every action carries an Idempotency-Key and survives a restarting
service; a refusal is printed once; a service that is down is named with what to run."""
import threading
from argparse import Namespace
from http.server import ThreadingHTTPServer

import pytest

import grantflow.http as http
from grantflow.http import Client
from tests.support.fake_http import JsonHandler


class _Service(JsonHandler):
    answers: list = []  # (status, body) popped per request; the last one repeats
    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).seen.append((self.command, self.headers.get("Idempotency-Key")))
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.answer(body, status)

    do_GET = do_POST = _answer


@pytest.fixture
def service():
    _Service.answers, _Service.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(url, **kwargs):
    return Client(Namespace(url=url, token="t", json=False), "grants", **kwargs)


def test_an_action_is_retried_on_503_with_the_same_idempotency_key(service, monkeypatch):
    monkeypatch.setattr(http, "WAIT_SECONDS", 10)
    _Service.answers = [(503, {"error": "starting"}), (200, {"ok": True})]
    assert client(service).fetch("POST", "/grants/G-1/sign", json={}) == (0, {"ok": True})
    (m1, key1), (m2, key2) = _Service.seen
    assert m1 == m2 == "POST" and key1 and key1 == key2  # the retry cannot act twice


def test_a_read_carries_no_idempotency_key(service):
    _Service.answers = [(200, [])]
    client(service).fetch("GET", "/grants")
    assert _Service.seen == [("GET", None)]


def test_a_422_is_printed_once_field_by_field(service, capsys):
    _Service.answers = [(422, {"error": "validation_failed",
                               "message": "title: Missing data; requested_grant: too high",
                               "errors": [{"field": "title", "rule": "Missing data"},
                                          {"field": "requested_grant", "rule": "too high"}]})]
    assert client(service).fetch("POST", "/proposals", json={})[0] == 2
    err = capsys.readouterr().err
    assert err.count("Missing data") == 1 and err.count("too high") == 1
    assert "  requested_grant: too high" in err


def test_a_local_service_that_is_not_running_is_named_at_once_with_what_to_run(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRANTFLOW_VAR", str(tmp_path))
    monkeypatch.setenv("GRANTFLOW_HOST", "127.0.0.1")
    monkeypatch.setenv("GRANTFLOW_GRANTS_PORT", "9")  # nothing listens there
    monkeypatch.delenv("GRANTFLOW_GRANTS_URL", raising=False)
    monkeypatch.setattr(http, "WAIT_SECONDS", 60)  # not waited for: the process is not running
    code, _ = Client(Namespace(url=None, token="t", json=False), "grants").fetch("GET", "/grants")
    err = capsys.readouterr().err
    assert code == 3
    assert "the grants service is not reachable: it does not answer at http://127.0.0.1:9 " \
           "(connection refused): its process is not running" in err
    assert "`grantflow up grants`" in err and str(tmp_path / "log" / "grants.log") in err
    assert "urllib3" not in err and "HTTPConnectionPool" not in err and "Traceback" not in err


def test_pages_after_asks_each_page_after_the_last_item_and_stops_when_none_is_left():
    log = [{"id": f"d{n}"} for n in range(5)]
    asked = []

    def fetch(params):
        asked.append(params)
        start = 0 if "after" not in params else [i["id"] for i in log].index(params["after"]) + 1
        items = log[start:start + params["limit"]]
        return {"items": items, "has_more": start + len(items) < len(log)}

    pages = list(http.pages_after(fetch, {"call_id": "C", "limit": 2}))
    assert pages == [log[0:2], log[2:4], log[4:5]]
    assert [p.get("after") for p in asked] == [None, "d1", "d3"]
    assert all(p["call_id"] == "C" for p in asked)
    assert list(http.pages_after(lambda params: {"items": [], "has_more": True}, {})) == [[]]
