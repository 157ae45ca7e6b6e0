from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared.events import (GrantDeclined, GrantPreparationStarted, GrantSignatureRequested,
                           GrantSigned, dump, load)
from services.grants.domain.errors import DeadlinePassed, GrantError, IllegalTransition
from services.grants.domain.grant import GrantFile, State
from services.grants.domain.terms import Candidate, invitation_due, invitation_time

from .factories import AUTHORITY, BRUSSELS, INFORMED_AT, RANKED_AT, entry, make_call


def candidate(requested="800000", costs="1000000", proposal_id="P1", rank=1):
    return Candidate.from_ranking_entry(entry(proposal_id, rank, requested, costs),
                                        "AMIF-2018-AG-INTE-1")


def open_file(call, **kw):
    grant = GrantFile.start(candidate(**kw), call, INFORMED_AT, AUTHORITY,
                            causation_id="ranking-1")
    return grant


def walk(grant, upto: State):
    """Drive a fresh file to ``upto`` along the happy path, one day per step."""
    steps = [(State.DATA_CONFIRMED, grant.confirm_data),
             (State.COORDINATOR_SIGNED, grant.sign_by_coordinator),
             (State.SIGNED, grant.sign_by_authority)]
    day = INFORMED_AT + timedelta(days=1)
    if upto is State.DECLINED:
        grant.decline(day)
    for state, step in steps:
        if grant.state is upto:
            break
        day += timedelta(days=1)
        step(day)
    grant.pull_events()
    return grant


# ---------------------------------------------------------------- opening the file
def test_invitation_opens_the_file_with_terms_and_deadlines(call):
    grant = open_file(call, requested="950000", costs="1000000")
    assert grant.grant_id == "GRANT-P1" and grant.state is State.INVITED
    assert grant.max_grant == Decimal("900000.00")  # cut to 90 % of costs
    assert grant.preparation_deadline == datetime(2019, 8, 30, 9, 0, tzinfo=BRUSSELS)
    # 120 days later crosses the end of summer time: same wall-clock time, not same UTC
    assert grant.signature_deadline == datetime(2019, 10, 29, 9, 0, tzinfo=BRUSSELS)
    assert grant.signature_deadline.utcoffset() == timedelta(hours=1)
    assert grant.start_date == date(2019, 11, 1)
    assert grant.duration_months == 36
    assert [b.legal_name for b in grant.beneficiaries] == ["City of P1", "Region of P1"]
    assert grant.coordinator_email == "coord@p1.example.org"
    # coordinator first, addresses lower-cased and de-duplicated
    assert grant.contact_emails == ("coord@p1.example.org", "office@p1.example.org")


def test_invitation_records_grant_preparation_started_that_loads_through_its_schema(call):
    grant = open_file(call)
    [started] = grant.pull_events()
    assert isinstance(started, GrantPreparationStarted)
    assert started.max_grant == Decimal("800000.00")
    assert started.requested_grant == Decimal("800000")
    assert started.preparation_deadline == grant.preparation_deadline
    assert started.signature_deadline == grant.signature_deadline
    assert started.causation_id == "ranking-1" and started.correlation_id == "P1"
    assert started.promoted_from_reserve is False
    assert load(dump(started)) == started
    assert grant.pull_events() == []


def test_start_date_rolls_over_the_year():
    call = make_call(preparation_days=30, signature_days=61)
    grant = GrantFile.start(candidate(), call, datetime(2019, 11, 1, 9, tzinfo=BRUSSELS),
                            AUTHORITY)
    assert grant.signature_deadline.date() == date(2020, 1, 1)
    assert grant.start_date == date(2020, 2, 1)
    late = GrantFile.start(candidate(), make_call(preparation_days=30, signature_days=40),
                           datetime(2019, 11, 1, 9, tzinfo=BRUSSELS), AUTHORITY)
    assert late.start_date == date(2020, 1, 1)  # deadline 11 December 2019


def test_preparation_longer_than_signature_period_is_refused():
    with pytest.raises(ValueError, match="preparation_days"):
        GrantFile.start(candidate(), make_call(preparation_days=90, signature_days=60),
                        INFORMED_AT, AUTHORITY)


def test_invitation_waits_for_the_information_stage_or_the_ranking_whichever_is_later(call):
    assert invitation_time(call, RANKED_AT) == INFORMED_AT  # ranking came first
    late_ranking = datetime(2019, 7, 10, 8, 0, tzinfo=timezone.utc)
    assert invitation_time(call, late_ranking) == late_ranking
    assert not invitation_due(call, RANKED_AT, INFORMED_AT - timedelta(seconds=1))
    assert invitation_due(call, RANKED_AT, INFORMED_AT)


# ---------------------------------------------------------------- the happy path
def test_happy_path_requests_signatures_in_order_and_orders_prefinancing(call):
    grant = open_file(call, requested="899999.99", costs="1000000")
    grant.pull_events()
    confirmed = INFORMED_AT + timedelta(days=10)
    grant.confirm_data(confirmed)
    [to_coordinator] = grant.pull_events()
    assert isinstance(to_coordinator, GrantSignatureRequested)
    assert (to_coordinator.party, to_coordinator.recipient_email) == \
        ("coordinator", "coord@p1.example.org")
    assert to_coordinator.due_at == grant.signature_deadline

    grant.sign_by_coordinator(confirmed + timedelta(days=20))
    [to_authority] = grant.pull_events()
    assert (to_authority.party, to_authority.recipient_email) == ("authority", AUTHORITY)
    assert grant.state is State.COORDINATOR_SIGNED

    signed_at = confirmed + timedelta(days=30)
    grant.sign_by_authority(signed_at)
    [signed] = grant.pull_events()
    assert isinstance(signed, GrantSigned)
    assert grant.state is State.SIGNED and grant.authority_signed_at == signed_at
    assert signed.amount == Decimal("899999.99")
    assert signed.prefinancing_amount == Decimal("360000.00")  # 40 %, half up
    assert [(o.kind, o.amount) for o in grant.payment_orders] == \
        [("prefinancing", Decimal("360000.00"))]
    assert load(dump(signed)) == signed


# ---------------------------------------------------------------- illegal steps
STEPS = {
    "confirm_data": lambda g, t: g.confirm_data(t),
    "sign_by_coordinator": lambda g, t: g.sign_by_coordinator(t),
    "sign_by_authority": lambda g, t: g.sign_by_authority(t),
    "decline": lambda g, t: g.decline(t),
    "withdraw": lambda g, t: g.withdraw(t),
}
LEGAL = {
    State.INVITED: {"confirm_data", "decline", "withdraw"},
    State.DATA_CONFIRMED: {"sign_by_coordinator", "decline", "withdraw"},
    State.COORDINATOR_SIGNED: {"sign_by_authority", "decline", "withdraw"},
    State.SIGNED: set(),
    State.DECLINED: set(),
}
ILLEGAL = [(state, step) for state in State for step in STEPS if step not in LEGAL[state]]


@pytest.mark.parametrize("state,step", ILLEGAL, ids=[f"{s.value}-{t}" for s, t in ILLEGAL])
def test_every_out_of_order_step_is_refused_naming_state_and_rule(call, state, step):
    grant = walk(open_file(call), state)
    before = (grant.state, list(grant.payment_orders))
    with pytest.raises(IllegalTransition) as refused:
        STEPS[step](grant, INFORMED_AT + timedelta(days=10))
    message = str(refused.value)
    assert f"'{state.value}'" in message and "GRANT-P1" in message
    assert refused.value.state == state.value and refused.value.rule in message
    assert (grant.state, grant.payment_orders) == before and grant.events == []


def test_the_legal_table_covers_every_step_at_least_once():
    assert set().union(*LEGAL.values()) == set(STEPS)


@pytest.mark.parametrize("state", [State.INVITED, State.DATA_CONFIRMED,
                                   State.COORDINATOR_SIGNED])
@pytest.mark.parametrize("how,reason", [("decline", "declined"), ("withdraw", "withdrawn")])
def test_an_open_file_ends_by_decline_or_withdrawal_freeing_its_grant(call, state, how, reason):
    grant = walk(open_file(call), state)
    STEPS[how](grant, INFORMED_AT + timedelta(days=5))
    [ended] = grant.pull_events()
    assert isinstance(ended, GrantDeclined)
    assert (ended.reason, ended.freed_budget) == (reason, Decimal("800000.00"))
    assert grant.state is State.DECLINED and grant.freed_budget == Decimal("800000.00")
    assert load(dump(ended)) == ended


def test_unknown_end_reason_is_refused(call):
    with pytest.raises(ValueError, match="unknown end reason"):
        open_file(call).decline(INFORMED_AT, reason="bored")


def test_nothing_happens_before_the_invitation(call):
    with pytest.raises(GrantError, match="before the invitation"):
        open_file(call).confirm_data(INFORMED_AT - timedelta(minutes=1))


def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        open_file(call).confirm_data(datetime(2019, 7, 2, 9, 0))


# ---------------------------------------------------------------- deadlines
def test_confirming_exactly_at_the_preparation_deadline_is_on_time(call):
    grant = open_file(call)
    grant.confirm_data(grant.preparation_deadline)
    assert grant.state is State.DATA_CONFIRMED


def test_missed_preparation_deadline_refuses_the_step_then_expiry_ends_the_file(call):
    grant = open_file(call)
    grant.pull_events()
    late = grant.preparation_deadline + timedelta(seconds=1)
    with pytest.raises(DeadlinePassed, match="preparation deadline"):
        grant.confirm_data(late)
    assert grant.state is State.INVITED
    assert grant.expire(grant.preparation_deadline) is False  # at the instant: still on time
    assert grant.expire(late) is True
    [ended] = grant.pull_events()
    assert (ended.reason, ended.freed_budget) == ("preparation_deadline_missed",
                                                  Decimal("800000.00"))
    assert grant.expire(late + timedelta(days=1)) is False  # ends once


def test_missed_signature_deadline_after_confirmation_ends_the_file(call):
    grant = walk(open_file(call), State.DATA_CONFIRMED)
    late = grant.signature_deadline + timedelta(seconds=1)
    with pytest.raises(DeadlinePassed, match="signature deadline"):
        grant.sign_by_coordinator(late)
    assert grant.expire(late) is True
    assert grant.pull_events()[0].reason == "signature_deadline_missed"


def test_authority_may_sign_late_once_the_coordinator_signed_on_time(call):
    grant = walk(open_file(call), State.COORDINATOR_SIGNED)
    late = grant.signature_deadline + timedelta(days=3)
    assert grant.expire(late) is False
    grant.sign_by_authority(late)
    assert grant.state is State.SIGNED


def test_deadlines_compare_instants_not_wall_clock_in_the_autumn_fold(call):
    # preparation deadline 27 Oct 2019 02:30 CEST (00:30 UTC); 02:10 CET an hour later reads
    # earlier on the wall clock but is 01:10 UTC: too late
    grant = GrantFile.start(candidate(), call, datetime(2019, 8, 28, 2, 30, tzinfo=BRUSSELS),
                            AUTHORITY)
    assert grant.preparation_deadline.utcoffset() == timedelta(hours=2)
    after_fold = datetime(2019, 10, 27, 2, 10, fold=1, tzinfo=BRUSSELS)
    with pytest.raises(DeadlinePassed):
        grant.confirm_data(after_fold)
    assert grant.missed_deadline(after_fold) == "preparation_deadline_missed"


def test_a_received_stage_event_sets_the_invitation_instant_over_the_call_document(call):
    announced = datetime(2019, 7, 2, 8, 0, tzinfo=timezone.utc)  # e.g. after an amendment
    assert invitation_time(call, RANKED_AT, announced) == announced
    assert not invitation_due(call, RANKED_AT, INFORMED_AT, announced)
    assert invitation_due(call, RANKED_AT, announced, announced)


def test_every_party_to_the_agreement_may_read_the_file(call):
    assert open_file(call).readers == ("coord@p1.example.org", "office@p1.example.org",
                                       "partner@p1.example.org")
