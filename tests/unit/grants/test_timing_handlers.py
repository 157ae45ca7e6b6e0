"""Time to inform and time to grant as the service computes them from events and ticks."""
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from services.grants.adapters import repository
from services.grants.adapters.repository import GrantsRepository
from shared.events import DeadlineClosed
from tests.support.grants_events import (CALL_ID, INFORMATION_AT, amif_call, call_published,
                                         entry, letter_delivered, ranking, rejected_entry,
                                         stage_reached, withdrawn)

from .harness import Grants

UTC = timezone.utc
DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=UTC)  # 17:00 Brussels
TTI_LIMIT = datetime(2019, 7, 31, 15, 0, tzinfo=UTC)  # + 6 months (the call's target), CEST
TTG_LIMIT = datetime(2019, 12, 31, 16, 0, tzinfo=UTC)  # + 11 months, CET


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, {"service": "grants", **labels}) or 0.0


@pytest.fixture
def grants(tmp_path):
    grants = Grants(tmp_path).at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking([entry("M1", 1, "1000000"), entry("M2", 2, "1000000")], [],
                           "2000000", rejected=[rejected_entry("X1")]))
    grants.deliver(stage_reached())
    grants.new_events()
    return grants


def breaches(grants) -> list[tuple[str, str]]:
    return sorted((e["proposal_id"], e["measure"]) for e in grants.new_events()
                  if e["event_type"] == "time_target_breached")


def test_the_earliest_result_letter_stops_time_to_inform_and_is_observed_once(grants):
    observed = sample("grantflow_time_to_inform_days_count", call_id=CALL_ID)
    later, earlier = INFORMATION_AT + timedelta(hours=2), INFORMATION_AT + timedelta(hours=1)
    grants.deliver(letter_delivered("M1", later, recipient="office@m1.example.org"))
    grants.deliver(letter_delivered("M1", earlier))  # reported second, delivered first
    grants.deliver(letter_delivered("M2", earlier, template="grant_invitation"))
    tti = grants.timing("M1")["tti"]
    assert tti["informed_at"] == earlier
    assert (tti["days"], tti["months"]) == ((earlier - DEADLINE).days, 5)
    assert tti["target_months"] == 6 and tti["limit_at"] == TTI_LIMIT
    assert grants.timing("M2")["tti"]["informed_at"] is None  # not a result letter
    assert sample("grantflow_time_to_inform_days_count", call_id=CALL_ID) == observed + 1


def test_a_batch_of_deliveries_claims_only_the_result_letters_and_applies_them_once(grants):
    letter = letter_delivered("M1", INFORMATION_AT + timedelta(hours=1))
    others = [letter_delivered("M2", INFORMATION_AT, template="grant_invitation"),
              letter_delivered("M2", INFORMATION_AT, template="submission_receipt")]
    grants.deliver_batch(others)  # nothing of this batch has an effect: nothing is claimed
    assert grants.claimed_event_ids("notification_delivered") == set()
    grants.deliver_batch([others[0], letter, others[1]])
    assert grants.claimed_event_ids("notification_delivered") == {letter.event_id}
    assert grants.timing("M1")["tti"]["informed_at"] == letter.sent_at
    assert grants.timing("M2")["tti"]["informed_at"] is None
    observed = sample("grantflow_time_to_inform_days_count", call_id=CALL_ID)
    grants.deliver_batch([letter])  # redelivered: already claimed, observed no second time
    assert sample("grantflow_time_to_inform_days_count", call_id=CALL_ID) == observed


def test_a_batch_of_several_proposals_letters_keeps_each_earliest_and_observes_each_once(
        grants):
    observed = sample("grantflow_time_to_inform_days_count", call_id=CALL_ID)
    first, second = INFORMATION_AT + timedelta(hours=1), INFORMATION_AT + timedelta(hours=3)
    grants.deliver_batch([letter_delivered("M2", second, recipient="a@m2.example.org"),
                          letter_delivered("M1", second),
                          letter_delivered("M2", first, recipient="b@m2.example.org"),
                          letter_delivered("M1", first, recipient="office@m1.example.org")])
    assert grants.timing("M1")["tti"]["informed_at"] == first
    assert grants.timing("M2")["tti"]["informed_at"] == first
    assert grants.timing("X1")["tti"]["informed_at"] is None
    assert sample("grantflow_time_to_inform_days_count", call_id=CALL_ID) == observed + 2
    earliest = INFORMATION_AT + timedelta(minutes=5)  # reported late, delivered earliest
    grants.deliver_batch([letter_delivered("M1", earliest, recipient="late@m1.example.org"),
                          letter_delivered("X1", second)])
    assert grants.timing("M1")["tti"]["informed_at"] == earliest
    assert grants.timing("X1")["tti"]["informed_at"] == second
    assert sample("grantflow_time_to_inform_days_count", call_id=CALL_ID) == observed + 3


def test_every_unanswered_proposal_is_flagged_once_when_the_tti_target_passes(grants):
    grants.deliver(letter_delivered("M1", INFORMATION_AT))
    counted = sample("grantflow_time_target_breaches_total", call_id=CALL_ID, measure="tti")
    grants.at(TTI_LIMIT).tick()
    assert breaches(grants) == []
    grants.at(TTI_LIMIT + timedelta(seconds=1)).tick()
    assert breaches(grants) == [("M2", "tti"), ("X1", "tti")]  # M1 was informed in time
    grants.advance(days=3).tick()
    assert breaches(grants) == []
    assert grants.timing("X1")["tti"]["breached"] is True
    assert sample("grantflow_time_target_breaches_total", call_id=CALL_ID,
                  measure="tti") == counted + 2


def test_a_late_letter_is_a_breach_even_without_a_tick_before_it(grants):
    for pid in ("M1", "M2"):
        grants.deliver(letter_delivered(pid, INFORMATION_AT))
    late = TTI_LIMIT + timedelta(days=2)
    grants.at(late + timedelta(hours=1)).deliver(letter_delivered("X1", late))
    grants.tick()
    [event] = [e for e in grants.new_events() if e["event_type"] == "time_target_breached"]
    assert (event["proposal_id"], event["days"]) == ("X1", (late - DEADLINE).days)


def test_time_to_grant_breach_for_a_grant_the_authority_did_not_countersign(grants):
    for pid in ("M1", "M2", "X1"):
        grants.deliver(letter_delivered(pid, INFORMATION_AT))
    grants.advance(days=1)
    for pid in ("M1", "M2"):
        grants.confirm(pid)
        grants.sign(pid)
    grants.advance(days=30).countersign("M1")
    grants.at(TTG_LIMIT + timedelta(minutes=1)).tick()
    assert breaches(grants) == [("M2", "ttg")]  # signed by the coordinator, waiting since
    assert grants.timing("M2")["ttg"]["breached"] is True
    assert grants.timing("M1")["ttg"]["breached"] is False
    assert grants.timing("X1")["ttg"]["expected"] is False  # rejected: no grant to wait for


def test_withdrawn_and_ended_proposals_are_not_flagged(grants):
    grants.deliver(withdrawn("X1", INFORMATION_AT))
    grants.advance(days=1).decline("M1")
    grants.deliver(letter_delivered("M1", INFORMATION_AT))
    grants.deliver(letter_delivered("M2", INFORMATION_AT))
    grants.at(TTG_LIMIT + timedelta(days=1)).tick()
    # M1 ended unsigned: no time to grant; M2's coordinator never acted, so its file ended
    # at the preparation deadline; X1 was withdrawn
    assert breaches(grants) == []


def test_a_closing_starts_its_clocks_in_statements_of_a_page_keeping_those_that_exist(
        grants, monkeypatch):
    """A closing (or a ranking) names every proposal of a topic: their clocks are created
    a page of rows per statement (SQLite takes at most 32,766 values in one), and a clock
    that exists keeps its facts."""
    grants.deliver(letter_delivered("M1", INFORMATION_AT))
    monkeypatch.setattr(repository, "_NEW_CLOCKS_PER_STATEMENT", 2)
    on_time = ["M1", "S1", "S2", "S3", "S4", "S5"]

    grants.deliver(DeadlineClosed(
        call_id=CALL_ID, correlation_id="AMIF-2018-AG-INTE-1", occurred_at=DEADLINE,
        topic_id="AMIF-2018-AG-INTE-1", deadline=DEADLINE, closed_at=DEADLINE,
        manifest=[{"proposal_id": pid, "version": 1, "content_hash": "h",
                   "received_at": "2019-01-30T10:00:00+00:00"} for pid in on_time],
        manifest_hash="x"))

    with grants.uows() as uow:
        rows = {row.proposal_id: row for row in
                GrantsRepository(uow.session, INFORMATION_AT).clock_rows(CALL_ID)}
    assert set(on_time) <= set(rows)
    assert rows["M1"].informed_at is not None  # the letter's fact is kept
    assert [rows[pid].informed_at for pid in on_time[1:]] == [None] * 5


def test_deadline_closed_puts_every_on_time_proposal_on_the_tti_watch(grants):
    grants.deliver(DeadlineClosed(
        call_id=CALL_ID, correlation_id="AMIF-2018-AG-INTE-1", occurred_at=DEADLINE,
        topic_id="AMIF-2018-AG-INTE-1", deadline=DEADLINE, closed_at=DEADLINE,
        manifest=[{"proposal_id": "S9", "version": 1, "content_hash": "h",
                   "received_at": "2019-01-30T10:00:00+00:00"}], manifest_hash="x"))
    grants.at(TTI_LIMIT + timedelta(hours=1)).tick()
    assert ("S9", "tti") in breaches(grants)
