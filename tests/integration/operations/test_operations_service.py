"""The operations service as real processes on RabbitMQ and PostgreSQL: two replicas
project a whole call published out of order and partly twice, and serve it as JSON, to
the CLI, and as metrics."""
import json
import random

import pytest
import requests

from grantflow import cli
from grantflow.processes import ServiceProcess
from shared.messaging.dlq import list_dead_letters
from tests.integration.backbone.helpers import scalar
from tests.support.infra import eventually, free_port
from tests.support.operations_scenario import (CALL_ID, CURRENT_STAGE, EXPECTED, LETTERS_SENT,
                                               LOADS, T5, call_events, publish,
                                               publish_unreadable)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _second_replica(stack) -> ServiceProcess:
    config = {**stack.config("operations"), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    replica = ServiceProcess("operations", config, stack.tmp_path / "replica-2").start()
    stack.processes["operations-2"] = replica  # stopped with the stack
    replica.wait_healthy()
    return replica


def _outcomes(report):
    return {p["id"]: (p["topic"], p["final_state"], p["state"], p["failed_rules"],
                      None if p["total_score"] is None else f"{float(p['total_score']):.2f}",
                      p["rank"], p["list"]) for p in report["proposals"]}


def _processed(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("grantflow_events_consumed_total{")
               and 'outcome="processed"' in line)


def test_two_replicas_project_a_call_published_out_of_order_and_twice(stack, tmp_path, capsys):
    stack.start("operations")
    replica = _second_replica(stack)
    ops = stack.api("operations")
    events = call_events()
    shuffled = events + random.Random(11).sample(events, k=20)  # 20 redelivered
    random.Random(5).shuffle(shuffled)

    publish(stack.vhost.amqp_uri, shuffled)

    def report_when_expected():
        answer = ops.get(f"/calls/{CALL_ID}/report")  # 404 until the call's first event
        return answer.status_code == 200 and _outcomes(answer.json()) == EXPECTED and \
            answer.json()

    eventually(report_when_expected, timeout=60,
               message="every proposal reaches its expected state")
    eventually(lambda: scalar(stack, "operations", "SELECT count(*) FROM processed_events")
               == len(events), message="every event processed")
    # read once everything is in: the states may be final before the last letter is counted
    report = ops.get(f"/calls/{CALL_ID}/report").json()
    # each event had its effect exactly once, though both replicas consumed concurrently
    assert scalar(stack, "operations", "SELECT sum(count) FROM event_counts") == len(events)
    assert _processed(stack.url("operations")) > 0 and _processed(replica.http_url) > 0
    summary = report["summary"]
    assert summary["by_final_state"] == {"withdrawn": 1, "inadmissible": 1, "ineligible": 1,
                                         "rejected": 1, "reserve": 1, "declined": 1,
                                         "grant_signed": 2}
    assert (summary["grants_signed"], summary["letters_sent"]) == (2, LETTERS_SENT)
    line = next(t for t in summary["topics"] if t["topic_id"] == T5)
    assert (line["budget"], line["signed_total"]) == ("500000.00", "440000.00")
    promoted = next(p for p in report["proposals"] if p["id"] == "P-PRO")["timeline"]
    assert [e["event_type"] for e in promoted][-3:] == [
        "reserve_promoted", "grant_preparation_started", "grant_signed"]
    assert all(set(e) == {"event_type", "occurred_at", "summary"} for e in promoted)

    overview = ops.get(f"/calls/{CALL_ID}/overview").json()
    assert overview["current_stage"]["stage"] == CURRENT_STAGE
    assert [m["key"] for m in overview["timetable"] if m["current"]] == [CURRENT_STAGE]
    loads = {e["expert_id"]: (e["current"], e["by_topic"], e["released"])
             for e in ops.get("/loads", params={"call_id": CALL_ID}).json()["experts"]}
    assert loads == {k: (n, topics, released) for k, (n, topics, released) in LOADS.items()}
    assert [c["id"] for c in ops.get("/calls").json()["calls"]] == [CALL_ID]
    assert ops.get("/proposals/P-INA").json()["failed_rules"] == ["required_parts"]
    metrics = ops.get("/metrics").text
    assert f'grantflow_operations_proposals{{call_id="{CALL_ID}",state="grant_signed"}} 2.0' \
        in metrics

    _cli_reads_the_same(stack, tmp_path, capsys, report)


def _cli_reads_the_same(stack, tmp_path, capsys, report):
    url = stack.url("operations")
    assert cli.main(["ops", "status", "--url", url]) == 0
    status = capsys.readouterr().out
    assert "current stage: Grant agreement preparation starts" in status
    assert "grant_signed" in status and "result letters sent: 5" in status
    assert cli.main(["ops", "proposal", "P-PRO", "--url", url]) == 0
    assert "reserve_promoted" in capsys.readouterr().out
    saved = tmp_path / "report.json"
    assert cli.main(["ops", "report", CALL_ID, "--url", url, "--output", str(saved)]) == 0
    assert _outcomes(json.loads(saved.read_text())) == _outcomes(report)
    assert cli.main(["ops", "rebuild", CALL_ID, "--url", url]) == 0
    assert f"{len(call_events())} events replayed" in capsys.readouterr().out
    assert _outcomes(stack.api("operations").get(f"/calls/{CALL_ID}/report").json()) == \
        _outcomes(report)
    assert cli.main(["ops", "proposal", "P-NOPE", "--url", url]) == 1
    assert "proposal_id: unknown proposal" in capsys.readouterr().err
    assert cli.main(["ops", "status", "--url", f"http://127.0.0.1:{free_port()}"]) == 3


def test_errors_are_json_naming_field_and_rule_and_dead_letters_can_be_replayed(stack):
    stack.start("operations")
    ops = stack.api("operations")
    unreadable = publish_unreadable(stack.vhost.amqp_uri)

    letters = eventually(lambda: ops.get("/dead-letters").json()["letters"],
                         message="the unreadable message is listed")
    assert letters[0]["event_id"] == unreadable
    assert letters[0]["error"].startswith("invalid payload")
    assert letters[0]["queue"] == "evt-submission-all--operations.record_submission_events"

    missing = ops.post("/dead-letters/replay", json={"event_id": "no-such-event"})
    assert missing.status_code == 404
    assert missing.json()["errors"] == [{"field": "event_id",
                                         "rule": "no dead letter has this event id"}]
    replayed = ops.post("/dead-letters/replay", json={"event_id": unreadable})
    assert replayed.status_code == 200 and replayed.json()["count"] == 1
    # still unreadable: its handler sends it straight back
    eventually(lambda: [l.event_id for l in list_dead_letters(stack.vhost.amqp_uri)]
               == [unreadable], message="back in the dead-letter queue")

    bad = ops.post("/dead-letters/replay", json={"event_id": 5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "event_id"
    unknown_field = ops.post("/dead-letters/replay", json={"id": "x"})
    assert unknown_field.status_code == 422 and unknown_field.json()["errors"][0]["field"] == "id"
    malformed = requests.post(f"{ops.base_url}/dead-letters/replay", data="{not json",
                              headers={**ops.headers, "Content-Type": "application/json"},
                              timeout=10)
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    state = ops.get(f"/calls/{CALL_ID}/proposals", params={"state": "bogus"})
    assert state.status_code == 422 and state.json()["errors"][0]["field"] == "state"
    unknown = ops.get("/calls/NO-SUCH-CALL/overview")
    assert unknown.status_code == 404
    assert unknown.json()["errors"] == [{"field": "call_id", "rule": "unknown call"}]
    assert ops.get("/proposals/P-NOPE/timeline").status_code == 404
    applicant = stack.api("operations", role="applicant", email="a@example.eu")
    assert applicant.get("/calls").status_code == 403
    anonymous = stack.api("operations")
    anonymous.headers = {}
    assert anonymous.get("/calls").status_code == 401
    page = anonymous.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "nonce-" in page.headers["Content-Security-Policy"]
