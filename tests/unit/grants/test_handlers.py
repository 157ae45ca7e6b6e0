"""The grants handlers on a real SQLite unit of work: invitation timing, the reserve chain
through commands, withdrawals and the clock tick, out-of-order and repeated events."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared.events import load
from shared.messaging.consumer import PermanentFailure
from tests.support.grants_events import (INFORMATION_AT, RANKED_AT, amif_call, call_published,
                                         entry, ranking, stage_reached, withdrawn)

from .harness import Grants

UTC = timezone.utc
# under the call's 90 % cap each maximum grant equals its request (costs = request / 0.8)
MAIN = [entry("M1", 1, "1000000"), entry("M2", 2, "1000000"), entry("M3", 3, "600000")]
RESERVE = [entry("R1", 4, "900000"), entry("R2", 5, "550000"), entry("R3", 6, "500000")]
BUDGET = "2600000"


@pytest.fixture
def grants(tmp_path):
    return Grants(tmp_path)


def opened(grants, main=MAIN, reserve=RESERVE, budget=BUDGET):
    """Call, ranking and information stage delivered; the clock at the stage."""
    grants.at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking(main, reserve, budget))
    grants.deliver(stage_reached())
    grants.new_events()
    return grants


# ---------------------------------------------------------------- invitation
def test_a_ranking_before_its_call_and_stage_waits_then_invites_at_the_stage(grants):
    grants.at(RANKED_AT)
    grants.deliver(ranking(MAIN, RESERVE, BUDGET))
    assert grants.states() == {} and grants.new_events() == []
    grants.deliver(call_published(amif_call()))
    assert grants.states() == {}  # known now, but the information stage has not come

    grants.at(INFORMATION_AT + timedelta(minutes=3))
    grants.deliver(stage_reached())
    assert grants.states() == {"M1": "invited", "M2": "invited", "M3": "invited"}
    started = [load(e) for e in grants.new_events()]
    assert {e.event_type() for e in started} == {"grant_preparation_started"}
    # invited at the stage's instant, deadlines counted from it (120 and 180 days)
    m1 = grants.grant("M1")
    assert m1["invited_at"] == INFORMATION_AT
    assert m1["preparation_deadline"] == INFORMATION_AT + timedelta(days=120, hours=1)  # DST ends
    assert m1["max_grant"] == Decimal("1000000.00")
    assert m1["next_step"]["action"] == "confirm"


def test_a_ranking_after_the_information_stage_invites_at_once(grants):
    grants.at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(stage_reached())
    late = INFORMATION_AT + timedelta(days=3)
    grants.at(late + timedelta(minutes=1)).deliver(ranking(MAIN, RESERVE, BUDGET, at=late))
    assert set(grants.states()) == {"M1", "M2", "M3"}
    assert grants.grant("M1")["invited_at"] == late


def test_the_tick_invites_when_the_stage_instant_passed_without_its_event(grants):
    grants.at(RANKED_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking(MAIN, RESERVE, BUDGET))
    grants.at(INFORMATION_AT - timedelta(seconds=1)).tick()
    assert grants.states() == {}
    report = grants.at(INFORMATION_AT).tick()
    assert report.invited_topics == 1 and len(grants.states()) == 3
    grants.tick()  # idempotent
    assert len([e for e in grants.new_events()
                if e["event_type"] == "grant_preparation_started"]) == 3


# ---------------------------------------------------------------- reserve chain
def test_ticks_before_the_invitation_do_not_read_an_opened_ranking_again(grants, monkeypatch):
    """A ranking is opened once; until its invitation is due the ticks leave it alone
    (reading it again on every tick kept grants at a full core at 10,000 proposals)."""
    from services.grants.adapters.repository import GrantsRepository

    grants.at(RANKED_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking(MAIN, RESERVE, BUDGET))  # opens the ledger
    reads = []
    real = GrantsRepository.ledger
    monkeypatch.setattr(GrantsRepository, "ledger",
                        lambda self, row, call: reads.append(row.topic_id) or real(self, row,
                                                                                   call))
    for minutes in range(1, 4):
        grants.at(RANKED_AT + timedelta(minutes=minutes)).tick()
    assert reads == [] and grants.states() == {}

    grants.at(INFORMATION_AT).tick()
    assert len(reads) == 1 and len(grants.states()) == 3


def test_declines_in_a_row_promote_the_reserve_that_fits_and_skip_the_one_that_does_not(grants):
    opened(grants).advance(days=5)
    view = grants.decline("M3", note="our partner city withdrew its co-financing")
    assert (view["state"], view["end_reason"]) == ("declined", "declined")
    assert view["decline_note"] == "our partner city withdrew its co-financing"
    # 600,000 freed: R1 (900,000) does not fit, R2 (550,000) does
    assert grants.new_types() == [("grant_declined", "M3"), ("reserve_promoted", "R2"),
                                  ("grant_preparation_started", "R2")]
    r2 = grants.grant("R2")
    assert r2["promoted_from_reserve"] and r2["invited_at"] == grants.now
    assert r2["preparation_deadline"] > grants.grant("M1")["preparation_deadline"]

    grants.advance(days=1).decline("R2")  # the second decline in a row: 600,000 again
    assert grants.new_types() == [("grant_declined", "R2"), ("reserve_promoted", "R3"),
                                  ("grant_preparation_started", "R3")]
    grants.advance(days=1).decline("M1")  # 1,100,000 free: R1 finally fits
    promoted = [e for e in grants.new_events() if e["event_type"] == "reserve_promoted"]
    assert [(e["proposal_id"], e["available_budget"]) for e in promoted] == \
        [("R1", "1100000.00")]
    assert grants.states() == {"M1": "declined", "M2": "invited", "M3": "declined",
                               "R1": "invited", "R2": "declined", "R3": "invited"}


def test_a_missed_preparation_deadline_ends_the_file_on_the_tick_once(grants):
    opened(grants)
    deadline = grants.grant("M3")["preparation_deadline"]
    for pid in ("M1", "M2"):
        grants.at(deadline - timedelta(days=1)).confirm(pid)
    grants.new_events()
    assert grants.at(deadline).tick().expired_files == 0  # at the instant: still on time
    report = grants.at(deadline + timedelta(seconds=1)).tick()
    assert report.expired_files == 1
    # (October is past the time-to-inform target: nobody got a letter in this test)
    events = [e for e in grants.new_events() if e["event_type"] != "time_target_breached"]
    assert [(e["event_type"], e["proposal_id"]) for e in events] == [
        ("grant_declined", "M3"), ("reserve_promoted", "R2"),
        ("grant_preparation_started", "R2")]
    assert events[0]["reason"] == "preparation_deadline_missed"
    assert grants.tick().expired_files == 0 and grants.new_events() == []


def test_a_missed_signature_deadline_ends_a_confirmed_file_but_not_a_signed_one(grants):
    opened(grants).advance(days=1)
    grants.confirm("M1")
    grants.confirm("M2")
    grants.sign("M2")
    grants.at(grants.grant("M1")["signature_deadline"] + timedelta(minutes=1)).tick()
    states = grants.states()
    assert states["M1"] == "declined" and states["M2"] == "coordinator_signed"
    assert grants.grant("M1")["end_reason"] == "signature_deadline_missed"
    assert grants.grant("M3")["end_reason"] == "preparation_deadline_missed"


def test_declining_after_the_deadline_ends_the_file_for_the_missed_deadline(grants):
    opened(grants)
    grants.at(grants.grant("M1")["preparation_deadline"] + timedelta(seconds=5))
    assert grants.decline("M1")["end_reason"] == "preparation_deadline_missed"


# ---------------------------------------------------------------- withdrawals
def test_withdrawing_a_proposal_in_preparation_frees_its_budget(grants):
    opened(grants).advance(days=2)
    grants.deliver(withdrawn("M3", grants.now))
    events = grants.new_events()
    assert [(e["event_type"], e["proposal_id"]) for e in events][:2] == \
        [("grant_declined", "M3"), ("reserve_promoted", "R2")]
    assert events[0]["reason"] == "withdrawn"
    assert grants.timing("M3")["withdrawn"] is True


def test_withdrawals_before_the_ranking_drop_the_reserve_and_end_the_main_file_at_once(grants):
    grants.at(RANKED_AT - timedelta(days=2))
    grants.deliver(withdrawn("R2", grants.now))  # arrives before the ranking naming it
    grants.deliver(withdrawn("M3", grants.now))
    opened(grants)
    assert grants.grant("M3")["end_reason"] == "withdrawn"
    assert grants.states()["R3"] == "invited"  # R2 was withdrawn: R3 gets M3's budget
    assert "R2" not in grants.states()


def test_a_withdrawn_waiting_reserve_is_never_promoted(grants):
    opened(grants)
    grants.deliver(withdrawn("R2", grants.now))
    assert grants.new_events() == []
    grants.advance(days=1).decline("M3")
    assert [e["proposal_id"] for e in grants.new_events()
            if e["event_type"] == "reserve_promoted"] == ["R3"]


# ---------------------------------------------------------------- signature
def test_signed_by_both_orders_prefinancing_and_stops_time_to_grant(grants):
    opened(grants).advance(days=10)
    grants.confirm("M1")
    grants.advance(days=10).sign("M1")
    signed_at = grants.advance(days=30).now
    view = grants.countersign("M1")
    assert view["state"] == "signed" and view["next_step"] is None
    # 60 % of 1,000,000 (the bundled call's assumed rate)
    assert [(o["kind"], o["amount"]) for o in view["payment_orders"]] == \
        [("prefinancing", Decimal("600000.00"))]
    assert [e["event_type"] for e in grants.new_events()] == [
        "grant_signature_requested", "grant_signature_requested", "grant_signed"]
    ttg = grants.timing("M1")["ttg"]
    assert ttg["signed_at"] == signed_at
    deadline = datetime(2019, 1, 31, 16, 0, tzinfo=UTC)
    assert ttg["days"] == (signed_at - deadline).days and ttg["breached"] is False


# ---------------------------------------------------------------- robustness
def test_redelivered_events_change_nothing(grants):
    published, ranked, stage = call_published(amif_call()), ranking(MAIN, RESERVE, BUDGET), \
        stage_reached()
    grants.at(INFORMATION_AT)
    for event in (ranked, published, stage):
        grants.deliver(event)
    grants.advance(days=1).decline("M3")
    before, events = grants.states(), grants.new_events()
    for event in (stage, ranked, published, stage):
        grants.deliver(event)
    # the stage reached again (say a replay from the dead-letter queue, new consumer id)
    grants.deliver(stage, consumer="grants.replayed")
    assert grants.states() == before and grants.new_events() == []
    assert len([e for e in events if e["event_type"] == "reserve_promoted"]) == 1


def test_a_different_ranking_after_invitation_is_dead_lettered(grants):
    opened(grants)
    with pytest.raises(PermanentFailure, match="already in grant preparation"):
        grants.deliver(ranking(MAIN[:1], [], BUDGET, at=RANKED_AT + timedelta(days=1)))


def test_a_newer_ranking_before_invitation_replaces_the_first(grants):
    grants.at(RANKED_AT)
    grants.deliver(ranking(MAIN, RESERVE, BUDGET))
    grants.deliver(ranking(MAIN[:1], [], "1000000", at=RANKED_AT + timedelta(hours=1)))
    grants.at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(stage_reached())
    assert grants.states() == {"M1": "invited"}


@pytest.mark.parametrize("broken", [
    {"rank": None}, {"requested_grant": Decimal("0")}])
def test_a_ranking_that_cannot_open_a_ledger_is_dead_lettered(grants, broken):
    with pytest.raises(PermanentFailure, match="cannot open a grant ledger"):
        grants.deliver(ranking([{**MAIN[0], **broken}], [], BUDGET))


def test_an_invalid_call_is_dead_lettered(grants):
    published = call_published(amif_call())
    broken = published.call | {"timezone": "Mars/Olympus"}
    with pytest.raises(PermanentFailure, match="does not validate"):
        grants.deliver(type(published)(**{**vars(published), "call": broken}))


def test_a_ledger_keeps_the_fundable_lists_of_its_ranking_alone(grants):
    # the rejected entries never enter a ledger, and each ledger load validated them again
    # (a ranking of 10,000 entries, three quarters rejected, was delivered in 1.7 s with
    # them kept, 0.7 s without)
    import sqlalchemy as sa
    from services.grants.adapters.tables import topic_ledgers
    from tests.support.grants_events import rejected_entry

    grants.at(INFORMATION_AT)
    grants.deliver(call_published(amif_call()))
    grants.deliver(ranking(MAIN, RESERVE, BUDGET,
                           rejected=[rejected_entry(f"X{i}") for i in range(5)]))
    with grants.uows() as uow:
        [kept] = uow.session.execute(sa.select(topic_ledgers.c.ranking)).scalars().all()
    assert kept["rejected"] == []
    assert [e["proposal_id"] for e in kept["main"] + kept["reserve"]] == [
        "M1", "M2", "M3", "R1", "R2", "R3"]
    grants.deliver(stage_reached())
    assert grants.states() == {"M1": "invited", "M2": "invited", "M3": "invited"}
