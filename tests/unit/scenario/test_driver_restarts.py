"""The timetable driver (``grantflow clock advance``, replays) waits for a service that is
restarting and names it, instead of stopping at the first refused connection."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer

import pytest

from grantflow.retry import Backoff
from grantflow.timetable import TimetableDriver
from tests.support.fake_http import JsonHandler
from tests.support.infra import free_port


class Submission(JsonHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.answer({"fired": ["publication"]})


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


class AlwaysWorking(JsonHandler):
    """A service whose clock tick finds work every time (a livelock)."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.answer({"service": "grants", "ticked_at": "", "worked": 3})


def test_a_settle_that_never_ends_names_the_service_that_keeps_finding_work():
    class Clock:
        def now(self):
            return datetime(2020, 1, 1, tzinfo=timezone.utc)

    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysWorking)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    driver = TimetableDriver(Clock(), "http://127.0.0.1:1", "token", "amqp://unused",
                             {"submission": "http://127.0.0.1:1", "grants": url})
    driver._wait = lambda: 0.0  # no broker here: the pipeline counts as settled at once
    try:
        with pytest.raises(TimeoutError) as raised:
            driver.settle()
    finally:
        server.shutdown()
        server.server_close()
    message = str(raised.value)
    assert "after 10 rounds at 2020-01-01T00:00:00+00:00" in message
    assert message.endswith("(work per round: " + "; ".join(["grants 3"] * 10) + ")")


class WorksOnce(JsonHandler):
    """A service whose first clock tick finds work (an event enabled it) and no other."""

    ticks = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).ticks += 1
        self.answer({"service": "evaluation", "ticked_at": "",
                     "worked": 1 if type(self).ticks == 1 else 0})


@pytest.mark.parametrize("first_tick_works, ticks_seen_by_each_wait",
                         [(True, [0, 1]), (False, [1])])
def test_a_settle_waits_for_the_traffic_of_each_tick_that_worked_and_no_more(
        first_tick_works, ticks_seen_by_each_wait):
    """The first wait is for the instant's own traffic, the next for the tick that found
    work; the tick that found nothing caused nothing to wait for."""
    WorksOnce.ticks = 0 if first_tick_works else 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), WorksOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    driver = TimetableDriver(None, "http://127.0.0.1:1", "token", "amqp://unused",
                             {"submission": "http://127.0.0.1:1", "evaluation": url})
    waited = []
    driver._wait = lambda: waited.append(WorksOnce.ticks) or 0.0
    try:
        driver.settle()
    finally:
        server.shutdown()
        server.server_close()
    assert waited == ticks_seen_by_each_wait
    assert WorksOnce.ticks == 2  # ticked until a tick found nothing


class HalfDoneDeadline(JsonHandler):
    """A submission service whose deadline takes three ticks: two leave it pending."""

    answers: list = []
    ticks = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).ticks += 1
        self.answer(type(self).answers.pop(0))


def test_a_deadline_left_pending_is_ticked_again_until_it_fired():
    def pending(closed, screened):
        return {"call_id": "C", "milestone": "submission_deadline", "topics": 5,
                "closed": closed, "screened": screened}
    HalfDoneDeadline.ticks = 0
    HalfDoneDeadline.answers = [
        {"fired": [{"milestone": "publication"}], "pending": [pending(3, 0)]},
        {"fired": [], "pending": [pending(5, 2)]},
        {"fired": [{"milestone": "submission_deadline"}], "pending": []}]
    server = ThreadingHTTPServer(("127.0.0.1", 0), HalfDoneDeadline)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    said = []
    driver = TimetableDriver(None, url, "token", "amqp://unused", {"submission": url},
                             say=said.append)
    try:
        fired = driver.tick()
    finally:
        server.shutdown()
        server.server_close()
    assert [f["milestone"] for f in fired] == ["publication", "submission_deadline"]
    assert HalfDoneDeadline.ticks == 3
    assert said == ["  submission_deadline of C: 3 of 5 topic(s) closed, 0 screened",
                    "  submission_deadline of C: 5 of 5 topic(s) closed, 2 screened"]


def test_call_tick_prints_a_pending_deadline_in_the_drivers_words(capsys):
    from grantflow.commands.calls import _print_tick
    _print_tick({"now": "2019-01-31T16:00:00+00:00", "fired": [], "pending": [
        {"call_id": "C", "milestone": "submission_deadline", "topics": 5, "closed": 5,
         "screened": 2}]})
    assert capsys.readouterr().out == (
        "C: submission_deadline under way: 5 of 5 topic(s) closed, 2 screened; the service "
        "goes on by itself, or tick again\n")
