"""The reserve chain through the broker: grants as a real process on PostgreSQL, fed the
events submission and evaluation would publish, driven over its HTTP API like the
coordinators and the granting authority would, read back through its API, its metrics
and the operations timeline."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from tests.support.grants_events import (INFORMATION_AT, TOPIC, amif_call, call_published,
                                         coordinator, entry, publish, ranking, stage_reached)
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# maximum grant = request (costs are request / 0.8, under the 90 % cap)
MAIN = [entry("M1", 1, "1000000"), entry("M2", 2, "1000000"), entry("M3", 3, "600000")]
RESERVE = [entry("R1", 4, "900000"), entry("R2", 5, "550000"), entry("R3", 6, "500000")]


def states(authority) -> dict[str, str]:
    listed = authority.get(f"/grants?topic_id={TOPIC}").json()["grants"]
    return {g["proposal_id"]: g["state"] for g in listed}


def test_two_declines_a_skipped_reserve_and_a_missed_deadline_walk_the_reserve_chain(stack):
    stack.start("grants", "operations")
    authority = stack.api("grants", "operations")
    coordinators = {pid: stack.api("grants", "applicant", coordinator(pid))
                    for pid in ("M1", "M2", "M3", "R1", "R2", "R3")}

    # out of order: the ranking comes before the call it belongs to
    publish(stack.vhost.amqp_uri, ranking(MAIN, RESERVE, "2600000"))
    publish(stack.vhost.amqp_uri, call_published(amif_call()))
    stack.clock.set(INFORMATION_AT)
    publish(stack.vhost.amqp_uri, stage_reached())
    eventually(lambda: states(authority) == dict.fromkeys(("M1", "M2", "M3"), "invited"),
               message="the main list is invited at the information stage")

    # 1st decline: 600,000 freed; R1 (900,000) does not fit and is skipped, R2 promoted
    stack.clock.set(INFORMATION_AT + timedelta(days=5))
    declined = coordinators["M3"].post("/grants/GRANT-M3/decline",
                                       json={"reason": "a partner left the consortium"})
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "declined"
    assert states(authority)["R2"] == "invited" and "R1" not in states(authority)
    r2 = coordinators["R2"].get("/grants/GRANT-R2").json()
    assert r2["promoted_from_reserve"] is True
    assert r2["invited_at"] == (INFORMATION_AT + timedelta(days=5)).isoformat()  # fresh deadlines

    # 2nd decline in a row (the promoted reserve itself): R3 fits the 600,000, R1 still not
    stack.clock.set(INFORMATION_AT + timedelta(days=6))
    assert coordinators["R2"].post("/grants/GRANT-R2/decline",
                                   json={"reason": "cannot start in time"}).status_code == 200
    assert states(authority) == {"M1": "invited", "M2": "invited", "M3": "declined",
                                 "R2": "declined", "R3": "invited"}

    # M2 goes the whole way: confirm, sign, countersign; pre-financing is ordered
    for step in ("confirm", "sign"):
        response = coordinators["M2"].post(f"/grants/GRANT-M2/{step}")
        assert response.status_code == 200, response.text
    signed = authority.post("/grants/GRANT-M2/authority-sign")
    assert signed.status_code == 200 and signed.json()["state"] == "signed"
    [order] = authority.get("/grants/GRANT-M2/payments").json()["payment_orders"]
    assert (order["kind"], Decimal(order["amount"])) == ("prefinancing", Decimal("600000.00"))

    # M1's coordinator never confirms: the clock tick ends the file at its deadline and
    # the 1,100,000 now free reaches R1, skipped twice before
    deadline = coordinators["M1"].get("/grants/GRANT-M1").json()["preparation_deadline"]
    stack.clock.advance(timedelta(days=120))
    eventually(lambda: states(authority).get("R1") == "invited",
               message="the missed deadline promotes R1")
    m1 = authority.get("/grants/GRANT-M1").json()
    assert (m1["state"], m1["end_reason"]) == ("declined", "preparation_deadline_missed")
    assert m1["ended_at"] > deadline
    assert states(authority) == {"M1": "declined", "M2": "signed", "M3": "declined",
                                 "R1": "invited", "R2": "declined", "R3": "invited"}

    # what operations sees: each promotion names the file whose budget it took
    promotions = {}
    for pid in ("R1", "R2", "R3"):
        timeline = eventually(lambda: [e for e in stack.api("operations").get(
            f"/proposals/{pid}/timeline").json() if e["event_type"] == "reserve_promoted"],
            message=f"the promotion of {pid} on the operations timeline")
        [promotion] = timeline
        promotions[pid] = promotion["payload"]["freed_by"]
    assert promotions == {"R2": "M3", "R3": "R2", "R1": "M1"}

    metrics = requests.get(f"{stack.url('grants')}/metrics", timeout=5).text
    assert ('grantflow_grants{call_id="AMIF-2018-AG-INTE",service="grants",state="declined"} 3.0'
            in metrics)


def test_the_api_refuses_bad_requests_with_json_naming_field_and_rule(stack):
    stack.start("grants")
    publish(stack.vhost.amqp_uri, call_published(amif_call()))
    stack.clock.set(INFORMATION_AT)
    publish(stack.vhost.amqp_uri, ranking(MAIN[:1], [], "1000000"), stage_reached())
    authority = stack.api("grants", "operations")
    eventually(lambda: states(authority) == {"M1": "invited"})
    m1 = stack.api("grants", "applicant", coordinator("M1"))
    partner = stack.api("grants", "applicant", "partner@m1.example.org")

    def refused(response, status, code, field=None):
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == code
        if field:
            assert field in [e["field"] for e in body["errors"]], body
        return body

    refused(m1.post("/grants/GRANT-M1/sign"), 409, "illegal_transition", "state")
    refused(m1.post("/grants/GRANT-M1/decline", json={}), 422, "validation_failed", "reason")
    refused(m1.post("/grants/GRANT-M1/decline", json={"reason": "  "}), 422,
            "validation_failed", "reason")
    refused(m1.post("/grants/GRANT-M1/confirm", data="{not json"), 400, "malformed_json")
    refused(m1.post("/grants/GRANT-M1/confirm", json={"surprise": 1}), 422,
            "validation_failed", "surprise")
    assert partner.get("/grants/GRANT-M1").status_code == 200  # a contact may read
    refused(partner.post("/grants/GRANT-M1/confirm"), 403, "forbidden")
    refused(stack.api("grants", "applicant", "x@y.example").get("/grants/GRANT-M1"), 404,
            "not_found", "grant_id")
    refused(m1.post("/grants/GRANT-M1/authority-sign"), 403, "forbidden")
    refused(authority.get("/grants?state=pending"), 422, "validation_failed", "state")
    refused(requests.get(f"{stack.url('grants')}/grants", timeout=5), 401, "unauthorized")
    # past the deadline: refused naming it, before and after the tick ended the file
    stack.clock.advance(timedelta(days=121))
    late = refused(m1.post("/grants/GRANT-M1/confirm"), 409, "deadline_passed",
                   "preparation_deadline")
    assert "preparation deadline" in late["message"]
    eventually(lambda: authority.get("/grants/GRANT-M1").json()["state"] == "declined")
    refused(m1.post("/grants/GRANT-M1/confirm"), 409, "deadline_passed", "preparation_deadline")


def test_a_file_that_ends_after_the_signature_period_promotes_no_one(stack):
    """The reserve list lapses with the signature period: a promoted file could not be
    signed any more. Promoting anyway gave each reserve proposal in turn a file whose
    deadlines had passed, ended at the next tick: a chain no replay could settle."""
    stack.start("grants")
    authority = stack.api("grants", "operations")
    publish(stack.vhost.amqp_uri, call_published(amif_call()))
    publish(stack.vhost.amqp_uri, ranking([entry("M1", 1, "1000000")],
                                          [entry("R1", 2, "900000"), entry("R2", 3, "800000")],
                                          "1000000"))
    stack.clock.set(INFORMATION_AT)
    publish(stack.vhost.amqp_uri, stage_reached())
    eventually(lambda: states(authority) == {"M1": "invited"},
               message="the main list is invited at the information stage")

    # nobody acts; the clock passes the end of the signature period (2020-01-01 00:00
    # Brussels) and the tick ends M1 for its missed preparation deadline
    stack.clock.set(datetime(2019, 12, 31, 23, 1, tzinfo=timezone.utc))
    eventually(lambda: states(authority)["M1"] == "declined",
               message="the tick ends the file after its deadline")
    assert states(authority) == {"M1": "declined"}  # R1 and R2 were not promoted
    ticked = authority.post("/clock/tick")
    assert ticked.status_code == 200, ticked.text
    assert ticked.json()["worked"] == 0
    assert states(authority) == {"M1": "declined"}
