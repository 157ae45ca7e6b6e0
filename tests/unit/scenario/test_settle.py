"""Settling waits for mail: stub services answer /health like the real ones (the
notifications service with its ``deliveries`` and ``smtp`` fields), and a real broker
connection is replaced by an empty queue list (no queue to wait for)."""
from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from grantflow import settle
from grantflow.settle import Snapshot, Waiting, mail_backlog, wait_until_settled
from tests.support.fake_http import JsonHandler


class Health(JsonHandler):
    """``/health`` answers whatever the test put in ``bodies`` (the last one sticks)."""

    bodies: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = type(self).bodies[0] if len(type(self).bodies) == 1 else type(self).bodies.pop(0)
        self.answer(body)


@pytest.fixture
def notifications(monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    # no broker in a unit test: no queue to look at
    monkeypatch.setattr(settle, "queue_depths", lambda conn, names: {})
    monkeypatch.setattr(settle, "Connection", _NoBroker)
    yield {"notifications": f"http://127.0.0.1:{httpd.server_address[1]}"}
    httpd.shutdown()
    httpd.server_close()


class _NoBroker:
    connection_errors = ()

    def __init__(self, uri):
        pass

    def close(self):
        pass


def health(queued=0, sending=0, deferred=0, smtp="up"):
    return {"service": "notifications", "status": "ok", "busy_workers": 0,
            "outbox_backlog": 0, "deliveries": {"queued": queued, "sending": sending,
                                                "deferred": deferred},
            "smtp": {"state": smtp, "since": "2019-07-01T08:00:00+00:00" if smtp == "down"
                     else None, "last_error": "Connection refused" if smtp == "down" else None}}


def test_deferred_mail_keeps_the_clock_waiting_until_it_is_sent(notifications):
    Health.bodies = [health(deferred=3, smtp="down")] * 6 + [health(sending=3)] * 2 + [health()]
    said = []
    waited = wait_until_settled("amqp://unused", notifications, interval=0.01,
                                say=said.append, stall_timeout=5)
    assert waited > 0
    assert Health.bodies == [health()]  # every answer before the quiet one was read
    assert len([line for line in said if "SMTP server is down" in line]) == 1
    assert any("SMTP server is back" in line for line in said)


def test_a_stalled_pipeline_is_reported_with_what_waits(notifications):
    Health.bodies = [health(queued=2)]
    with pytest.raises(TimeoutError, match="mail: 2 queued"):
        wait_until_settled("amqp://unused", notifications, interval=0.01, stall_timeout=0.2)


def test_an_outage_of_the_smtp_server_is_waited_for_longer_than_a_stall(notifications):
    Health.bodies = [health(deferred=1, smtp="down")] * 40 + [health()]
    assert wait_until_settled("amqp://unused", notifications, interval=0.01,
                              stall_timeout=0.1, smtp_timeout=30) > 0.1


def test_an_smtp_outage_is_said_once_then_now_and_then():
    said = []
    waiting = Waiting(said.append, every=0.05)
    down = Snapshot({}, {}, {}, [], {"deferred": 4}, {"state": "down", "since": None,
                                                       "last_error": "refused"})
    for _ in range(5):
        waiting.saw(down)
    assert len(said) == 1 and "4 messages wait" in said[0]
    time.sleep(0.06)
    waiting.saw(down)
    assert len(said) == 2 and said[1].startswith("  still waiting for the SMTP server")


def test_busy_workers_and_unanswered_services_are_not_quiet():
    assert not Snapshot({}, {}, {"evaluation": 1}, []).quiet
    assert not Snapshot({}, {}, {}, ["grants"]).quiet
    assert not Snapshot({"q": 1}, {}, {}, []).quiet
    assert not Snapshot({}, {"grants": 1}, {}, []).quiet
    assert not Snapshot({}, {}, {}, [], {"sending": 1}).quiet
    assert Snapshot({"q": 0}, {"grants": 0}, {"evaluation": 0}, [], {"queued": 0}).quiet


def test_without_the_deliveries_field_nothing_is_assumed_without_a_token():
    assert mail_backlog("http://unused", {"status": "ok"}, None) == ({}, None)


class _DroppingBroker(_NoBroker):
    """A broker connection whose first look at the queues fails, as a dropped one does."""

    connection_errors = (ConnectionResetError, TimeoutError)
    opened = 0

    def __init__(self, uri):
        type(self).opened += 1


def test_a_dropped_broker_connection_is_opened_again_and_the_wait_goes_on(notifications,
                                                                          monkeypatch):
    looks = []

    def depths(conn, names):
        looks.append(conn)
        if len(looks) == 1:
            raise ConnectionResetError("the broker closed the connection")
        return {}

    monkeypatch.setattr(settle, "queue_depths", depths)
    monkeypatch.setattr(settle, "Connection", _DroppingBroker)
    Health.bodies = [health()]
    said = []
    assert wait_until_settled("amqp://unused", notifications, interval=0.01,
                              say=said.append, stall_timeout=5) > 0
    assert _DroppingBroker.opened == 2 and len(looks) >= 3  # reopened, then quiet twice
