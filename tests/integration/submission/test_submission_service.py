"""The submission service as a real process on PostgreSQL and RabbitMQ: calls loaded with
the CLI, proposals through the HTTP API until the exact deadline, the manifest published
on the broker matching what was accepted, screening naming every failed rule, the timer
firing a jump over several stages in order, amendments, and withdrawal until ranking."""
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection

from services.submission.domain.manifest import manifest_hash
from services.submission.openapi import openapi_path, routes
from services.submission.service import SubmissionService
from shared.calls.loader import DEFAULT_CALL_FILE
from shared.events import RankingPublished, dump
from shared.messaging.topology import event_exchange
from tests.support.infra import eventually
from tests.support.submission_data import (CALL_ID, TOPIC_1, amended_yaml, participant,
                                           proposal_body)
from tests.support.submission_events import EventTap

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

UTC = timezone.utc
DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=UTC)
BROKEN = os.path.join(os.path.dirname(__file__), "..", "..", "unit", "calls", "fixtures",
                      "broken_call.yaml")


def grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_SUBMISSION_URL": stack.url("submission")}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_proposals_until_the_deadline_then_manifest_and_screening_on_the_broker(stack,
                                                                              tmp_path):
    stack.overrides["submission"] = {"SUBMISSION": {"part_max_bytes": 4096}}
    tap = EventTap(stack.vhost.amqp_uri).declare()
    stack.start("submission")
    url = stack.url("submission")

    # ------------------------------------------------------------ the call, by the CLI
    broken = grantflow(stack, "call", "validate", BROKEN)
    assert broken.returncode == 2
    assert "topics[2].budget: must be greater than 0 (line 21)" in broken.stdout
    # the stack's clock stands after the publication: that milestone fires at once
    loaded = grantflow(stack, "call", "load", "--fire-past", str(DEFAULT_CALL_FILE))
    assert loaded.returncode == 0, loaded.stderr
    assert "version 1: published" in loaded.stdout
    assert "unchanged" in grantflow(stack, "call", "load", "--fire-past",
                                    str(DEFAULT_CALL_FILE)).stdout

    # ------------------------------------------------------------ bad requests
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    assert requests.get(f"{url}/proposals", timeout=10).status_code == 401
    assert stack.api("submission", "evaluator", "x@y.eu").get("/proposals").status_code == 403
    malformed = ghent.post("/proposals", data="{not json")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed_json")
    wrong = ghent.post("/proposals", json=proposal_body(
        participant("Ghent", "be", experienced=True), requested_grant=800000.5,
        duration_months="two years"))
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == \
        {"coordinator.country", "requested_grant", "duration_months"}
    assert ghent.get("/proposals/P-NOSUCHTHING").status_code == 404
    unknown_state = ghent.get("/proposals", params={"state": "sent"})
    assert (unknown_state.status_code, unknown_state.json()["errors"]) == (400, [
        {"field": "state", "rule": "must be one of draft, submitted, withdrawn, frozen"}])

    # ------------------------------------------------------------ three proposals
    created = ghent.post("/proposals", json=proposal_body(part_names=("part_a", "budget")))
    assert created.status_code == 201, created.text
    good = created.json()["id"]
    too_big = ghent.put(f"/proposals/{good}/parts/part_b", data=b"x" * 4097)
    assert too_big.status_code == 413 and "4096 bytes" in too_big.json()["message"]
    assert ghent.put(f"/proposals/{good}/parts/part_b?filename=b.pdf",
                     data=b"%PDF technical part").status_code == 200
    stranger = stack.api("submission", "applicant", "aarhus@example.dk")
    assert stranger.get(f"/proposals/{good}").status_code == 404
    assert stranger.post(f"/proposals/{good}/submit").status_code == 404

    danish = stranger.post("/proposals", json=proposal_body(
        participant("Aarhus", "DK", experienced=True, email="aarhus@example.dk"),
        [participant("Lyon", "FR"), participant("Turin", "IT")],
        acronym="NORDINT")).json()["id"]
    no_budget = ghent.post("/proposals", json=proposal_body(
        acronym="NOBUDGET", part_names=("part_a", "part_b"))).json()["id"]

    first = ghent.post(f"/proposals/{good}/submit").json()
    assert ghent.patch(f"/proposals/{good}", json={"title": "Better"}).status_code == 200
    stack.clock.set(DEADLINE - timedelta(seconds=1))  # 16:59:59 in Brussels
    last = ghent.post(f"/proposals/{good}/submit").json()
    assert (first["version"], last["version"]) == (1, 2)
    assert last["received_at"] == "2019-01-31T15:59:59.000000+00:00"
    receipts = {good: last, danish: stranger.post(f"/proposals/{danish}/submit").json(),
                no_budget: ghent.post(f"/proposals/{no_budget}/submit").json()}

    # ------------------------------------------------------------ the deadline
    stack.clock.set(DEADLINE)  # 17:00:00 Brussels: late
    late = ghent.post(f"/proposals/{good}/submit")
    assert (late.status_code, late.json()["error"]) == (409, "deadline_passed")
    assert [v["version"] for v in ghent.get(f"/proposals/{good}").json()["versions"]] == [1, 2]
    ticked = grantflow(stack, "call", "tick")
    assert ticked.returncode == 0, ticked.stderr
    # the tick fires the deadline, unless the service's own timer was quicker
    assert "submission_deadline" in ticked.stdout or "nothing due" in ticked.stdout

    # the manifest on the broker is what was accepted, last version each
    closed = tap.wait_for(lambda t: [e for e in t.events("deadline_closed")
                                     if e["topic_id"] == TOPIC_1], message="deadline_closed")
    [event] = closed
    assert event["manifest"] == sorted(
        ({"proposal_id": r["proposal_id"], "version": r["version"],
          "content_hash": r["content_hash"], "received_at": r["received_at"]}
         for r in receipts.values()), key=lambda e: e["proposal_id"])
    assert event["manifest_hash"] == manifest_hash(event["manifest"])
    published = ghent.get(f"/calls/{CALL_ID}/topics/{TOPIC_1}/manifest").json()
    assert (published["manifest"], published["manifest_hash"]) == \
        (event["manifest"], event["manifest_hash"])
    for receipt, outcome in ((last, 0), (first, 1)):
        path = tmp_path / f"receipt-{receipt['version']}.json"
        path.write_text(json.dumps(receipt))
        verified = grantflow(stack, "proposal", "verify", str(path), "--call", CALL_ID,
                             "--topic", TOPIC_1)
        assert verified.returncode == outcome, verified.stdout + verified.stderr

    # screening names every failed rule with its values
    screened = tap.wait_for(lambda t: len(t.events("proposal_screened")) == 3
                            and {e["proposal_id"]: e for e in t.events("proposal_screened")},
                            message="three proposal_screened")
    assert screened[good]["eligible"] and screened[good]["admissible"]
    assert screened[good]["failed_rules"] == [] and screened[good]["version"] == 2
    [dk] = screened[danish]["failed_rules"]
    assert (dk["rule"], dk["kind"]) == ("participating_country", "eligibility")
    assert dk["values"]["entities"][0]["country"] == "DK"
    assert screened[danish]["contact_emails"][0] == "aarhus@example.dk"
    [missing] = screened[no_budget]["failed_rules"]
    assert (missing["rule"], missing["values"]) == ("required_parts",
                                                    {"part": "budget", "problem": "missing"})
    stage = tap.wait_for(lambda t: [e["stage"] for e in t.events("timetable_stage_reached")])
    assert stage == ["publication", "submission_deadline"]
    shown = ghent.get(f"/proposals/{no_budget}").json()
    assert shown["state"] == "frozen" and shown["screening"]["admissible"] is False

    # ------------------------------------------------------------ the API is documented
    document = requests.get(f"{url}/openapi.json", timeout=10).json()
    for _, route in routes(SubmissionService):
        assert route.method.lower() in document["paths"][openapi_path(route.url)], route.url


def test_the_timer_fires_a_jump_over_stages_in_order_amendments_and_withdrawal(stack):
    tap = EventTap(stack.vhost.amqp_uri).declare()
    stack.start("submission")
    operations = stack.api("submission")
    assert operations.post("/calls", data=amended_yaml(1).encode()).status_code == 201
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    ids = [ghent.post("/proposals", json=proposal_body(acronym=f"NET{n}")).json()["id"]
           for n in range(2)]
    for proposal_id in ids:
        assert ghent.post(f"/proposals/{proposal_id}/submit").status_code == 200

    # an amendment moves the deadline three hours later and tells the contacts
    amended = operations.post("/calls", json={"yaml": amended_yaml(2, "2019-01-31 20:00")})
    assert amended.status_code == 201, amended.text
    assert amended.json()["changes"] == [
        "timetable.submission_deadline moved from 2019-01-31 17:00 (Europe/Brussels) to "
        "2019-01-31 20:00 (Europe/Brussels)"]
    [v2] = tap.wait_for(lambda t: [e for e in t.events("call_published") if e["version"] == 2])
    assert v2["notify_emails"] == ["bologna@example.eu", "ghent@example.eu", "lyon@example.eu"]
    stack.clock.set(datetime(2019, 1, 31, 18, 0, tzinfo=UTC))  # after the old deadline
    assert ghent.post(f"/proposals/{ids[0]}/submit").json()["version"] == 2

    # the clock jumps over five milestones; the timer alone fires each, in order
    stack.clock.set(datetime(2019, 9, 1, tzinfo=UTC))
    expected = ["publication", "submission_deadline", "evaluation_start", "evaluation_end",
                "information_to_applicants", "grant_preparation_start"]
    stages = tap.wait_for(lambda t: (lambda s: len(s) >= 6 and s)(
        [e["stage"] for e in t.events("timetable_stage_reached")]), message="six stages")
    assert stages == expected
    [deadline] = [e for e in tap.events("timetable_stage_reached")
                  if e["stage"] == "submission_deadline"]
    assert (deadline["at"], deadline["call_version"]) == ("2019-01-31T19:00:00+00:00", 2)
    table = ghent.get(f"/calls/{CALL_ID}/timetable").json()
    assert [m["key"] for m in table["milestones"] if m["fired"]] == expected
    assert table["current_stage"] == "grant_preparation_start"
    closed = [e for e in tap.events("deadline_closed") if e["topic_id"] == TOPIC_1]
    assert {(e["proposal_id"], e["version"]) for e in closed[0]["manifest"]} == \
        {(ids[0], 2), (ids[1], 1)}

    # withdrawal after the deadline is announced, until the topic's ranking is published
    assert ghent.post(f"/proposals/{ids[0]}/withdraw", json={"reason": "partner left"}
                      ).status_code == 200
    tap.wait_for(lambda t: t.events("proposal_withdrawn"), message="proposal_withdrawn")
    ranking = RankingPublished(call_id=CALL_ID, correlation_id=TOPIC_1,
                               occurred_at=datetime(2019, 7, 1, tzinfo=UTC), topic_id=TOPIC_1,
                               budget=6000000, main=[], reserve=[], rejected=[],
                               funded_total=0)
    with Connection(stack.vhost.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(dump(ranking), exchange=event_exchange("evaluation"),
                                routing_key="ranking_published", serializer="json")
    eventually(lambda: scalar(stack, "SELECT count(*) FROM rankings") == 1,
               message="ranking_published consumed")
    refused = ghent.post(f"/proposals/{ids[1]}/withdraw", json={})
    assert (refused.status_code, refused.json()["error"]) == (409, "withdrawal_closed")
    assert ghent.get(f"/proposals/{ids[1]}").json()["state"] == "frozen"


def scalar(stack, sql: str):
    engine = stack.databases.engine("submission")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()
