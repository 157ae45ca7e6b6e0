"""Time to inform and time to grant computed from events on a replayed timetable: the
shared simulated clock walks from the ranking to the new year while the test publishes
what submission, evaluation and notifications would, and the coordinators and the
authority act over HTTP. Breaches reach operations once each."""
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.support.grants_events import (CALL_ID, INFORMATION_AT, RANKED_AT, amif_call,
                                         call_published, coordinator, entry, letter_delivered,
                                         publish, ranking, rejected_entry, stage_reached)
from tests.support.infra import eventually, stays

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

UTC = timezone.utc
DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=UTC)  # 17:00 Brussels
# the bundled call's (assumed) targets: 6 and 11 months after the deadline
TTI_LIMIT = datetime(2019, 7, 31, 15, 0, tzinfo=UTC)
TTG_LIMIT = datetime(2019, 12, 31, 16, 0, tzinfo=UTC)


def timing(stack) -> dict[str, dict]:
    report = stack.api("grants").get("/timing").json()["proposals"]
    return {p["proposal_id"]: p for p in report}


def breaches_on_timeline(stack, proposal_id) -> list[str]:
    timeline = stack.api("operations").get(f"/proposals/{proposal_id}/timeline").json()
    return [e["payload"]["measure"] for e in timeline
            if e["event_type"] == "time_target_breached"]


def test_tti_and_ttg_on_a_replayed_timetable_with_one_breach_of_each(stack):
    stack.start("grants", "operations")
    amqp, authority = stack.vhost.amqp_uri, stack.api("grants")
    stack.clock.set(RANKED_AT)
    publish(amqp, call_published(amif_call()),
            ranking([entry("M1", 1, "1000000"), entry("M2", 2, "1000000")], [], "2000000",
                    rejected=[rejected_entry("X1")]))
    eventually(lambda: set(timing(stack)) == {"M1", "M2", "X1"},
               message="every ranked proposal is watched")

    # information to applicants: main list invited, result letters out to M1 and M2 only
    stack.clock.set(INFORMATION_AT)
    letters_at = INFORMATION_AT + timedelta(minutes=5)
    publish(amqp, stage_reached(), letter_delivered("M1", letters_at),
            letter_delivered("M2", letters_at),
            letter_delivered("M2", letters_at + timedelta(minutes=1),
                             recipient="office@m2.example.org"))
    eventually(lambda: all(timing(stack)[p]["tti"]["informed_at"] for p in ("M1", "M2")))
    eventually(lambda: all(authority.get(f"/grants/GRANT-{p}").status_code == 200
                           for p in ("M1", "M2")), message="the main list is invited")

    stack.clock.set(INFORMATION_AT + timedelta(days=10))
    for pid in ("M1", "M2"):
        api = stack.api("grants", "applicant", coordinator(pid))
        for step in ("confirm", "sign"):
            assert api.post(f"/grants/GRANT-{pid}/{step}").status_code == 200

    # a minute past the time-to-inform target: X1 never got its letter
    stack.clock.set(TTI_LIMIT + timedelta(minutes=1))
    eventually(lambda: timing(stack)["X1"]["tti"]["breached"], message="X1's TTI breach")

    stack.clock.set(datetime(2019, 10, 15, 9, 0, tzinfo=UTC))
    signed = authority.post("/grants/GRANT-M1/authority-sign").json()
    assert signed["state"] == "signed"

    # the new year: M2's grant still waits for the authority's countersignature
    stack.clock.set(TTG_LIMIT + timedelta(hours=8))
    eventually(lambda: timing(stack)["M2"]["ttg"]["breached"], message="M2's TTG breach")

    report = timing(stack)
    m1, m2, x1 = report["M1"], report["M2"], report["X1"]
    assert m1["deadline"] == DEADLINE.isoformat()
    assert (m1["tti"]["days"], m1["tti"]["months"]) == ((letters_at - DEADLINE).days, 5)
    assert m2["tti"]["informed_at"] == letters_at.isoformat()  # the first letter counts
    signed_at = datetime.fromisoformat(signed["authority_signed_at"])
    assert (m1["ttg"]["days"], m1["ttg"]["months"]) == ((signed_at - DEADLINE).days, 8)
    assert not m1["tti"]["breached"] and not m1["ttg"]["breached"]
    assert x1["tti"]["breached"] is True and x1["tti"]["informed_at"] is None
    assert x1["ttg"]["expected"] is False and m2["ttg"]["signed_at"] is None

    # flagged to operations once each, never again on later ticks
    eventually(lambda: breaches_on_timeline(stack, "X1") == ["tti"]
               and breaches_on_timeline(stack, "M2") == ["ttg"])
    stack.clock.advance(timedelta(days=3))
    stays(lambda: breaches_on_timeline(stack, "X1") == ["tti"]
          and breaches_on_timeline(stack, "M2") == ["ttg"]
          and breaches_on_timeline(stack, "M1") == [], duration=2.5)

    metrics = requests.get(f"{stack.url('grants')}/metrics", timeout=5).text
    labels = f'call_id="{CALL_ID}"'
    for line in (f'grantflow_time_to_inform_days_count{{{labels},service="grants"}} 2.0',
                 f'grantflow_time_to_grant_days_count{{{labels},service="grants"}} 1.0',
                 f'grantflow_time_target_breaches_total{{{labels},measure="tti",'
                 'service="grants"} 1.0',
                 f'grantflow_time_target_breaches_total{{{labels},measure="ttg",'
                 'service="grants"} 1.0'):
        assert line in metrics, line
