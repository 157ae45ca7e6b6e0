from datetime import datetime, timedelta
from decimal import Decimal

from shared.calls.model import GrantRules
from shared.events import TimeTargetBreached, dump, load
from services.grants.domain.timing import (ProposalClock, add_months, elapsed,
                                           time_to_grant, time_to_inform)

from .factories import BRUSSELS

TZ = "Europe/Brussels"
DEADLINE = datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)  # 16:00 UTC
RULES = GrantRules(cofinancing_cap=Decimal("0.9"), preparation_days=60, signature_days=120,
                   prefinancing_rate=Decimal("0.4"), tti_target_months=5, ttg_target_months=8)
TTI_LIMIT = datetime(2019, 6, 30, 17, 0, tzinfo=BRUSSELS)  # 31 Jan + 5 months, clamped
TTG_LIMIT = datetime(2019, 9, 30, 17, 0, tzinfo=BRUSSELS)


def clock(pid="P1"):
    return ProposalClock(call_id="AMIF-2018-AG-INTE", proposal_id=pid, deadline=DEADLINE,
                         timezone=TZ)


def test_add_months_clamps_to_month_end_and_keeps_wall_clock_time():
    assert add_months(DEADLINE, 1, TZ) == datetime(2019, 2, 28, 17, 0, tzinfo=BRUSSELS)
    assert add_months(DEADLINE, 5, TZ) == TTI_LIMIT
    assert add_months(DEADLINE, 13, TZ) == datetime(2020, 2, 29, 17, 0, tzinfo=BRUSSELS)


def test_elapsed_counts_whole_days_and_whole_calendar_months():
    assert elapsed(DEADLINE, DEADLINE, TZ) == (elapsed(DEADLINE, DEADLINE, TZ).__class__(0, 0))
    just_short = datetime(2019, 2, 28, 16, 59, tzinfo=BRUSSELS)
    assert elapsed(DEADLINE, just_short, TZ).months == 0
    assert elapsed(DEADLINE, just_short + timedelta(minutes=1), TZ).months == 1
    assert elapsed(DEADLINE, just_short, TZ).days == 27


def test_replayed_timeline_gives_tti_and_ttg_without_breach():
    letter = datetime(2019, 6, 28, 10, 0, tzinfo=BRUSSELS)
    signed = datetime(2019, 9, 30, 12, 0, tzinfo=BRUSSELS)
    tti, ttg = time_to_inform(DEADLINE, letter, TZ), time_to_grant(DEADLINE, signed, TZ)
    assert (tti.days, tti.months) == (147, 4)
    assert (ttg.days, ttg.months) == (241, 7)

    c = clock()
    c.invited()
    for now, fact in [(letter, c.letter_delivered), (signed, c.grant_signed)]:
        fact(now)
        assert c.check(now, RULES) == []
    assert c.check(datetime(2020, 6, 1, tzinfo=BRUSSELS), RULES) == []


def test_still_not_informed_after_deadline_plus_five_months_is_a_breach_reported_once():
    c = clock()
    assert c.check(TTI_LIMIT, RULES) == []  # at the limit instant: not yet late
    late = TTI_LIMIT + timedelta(seconds=1)
    [breach] = c.check(late, RULES)
    assert isinstance(breach, TimeTargetBreached)
    assert (breach.proposal_id, breach.measure, breach.target_months) == ("P1", "tti", 5)
    # 150 calendar days, minus the hour summer time took: 149 whole days
    assert breach.days == 149
    assert load(dump(breach)) == breach
    assert c.check(late + timedelta(days=10), RULES) == []
    c.letter_delivered(late + timedelta(days=10))
    assert c.check(late + timedelta(days=11), RULES) == []


def test_a_late_letter_is_a_breach_even_if_no_tick_came_before_it():
    c = clock()
    c.letter_delivered(datetime(2019, 7, 1, 9, 0, tzinfo=BRUSSELS))
    [breach] = c.check(datetime(2019, 7, 2, tzinfo=BRUSSELS), RULES)
    assert breach.measure == "tti" and breach.days == 150  # measured to the letter


def test_time_to_grant_is_watched_only_for_invited_proposals_until_their_file_ends():
    informed = clock()
    informed.letter_delivered(datetime(2019, 6, 1, tzinfo=BRUSSELS))
    late = TTG_LIMIT + timedelta(days=1)
    assert informed.check(late, RULES) == []  # never invited: no TTG

    invited = clock("P2")
    invited.letter_delivered(datetime(2019, 6, 1, tzinfo=BRUSSELS))
    invited.invited()
    assert invited.check(TTG_LIMIT, RULES) == []
    [breach] = invited.check(late, RULES)
    assert (breach.measure, breach.target_months) == ("ttg", 8)

    ended = clock("P3")
    ended.letter_delivered(datetime(2019, 6, 1, tzinfo=BRUSSELS))
    ended.invited()
    ended.grant_ended()
    assert ended.check(late, RULES) == []


def test_withdrawn_proposal_is_not_measured():
    c = clock()
    c.proposal_withdrawn()
    assert c.check(TTG_LIMIT + timedelta(days=30), RULES) == []


def test_assumed_call_timetable_breaches_tti_for_every_letter_sent_at_information_stage():
    """Documents a clash in the call file's ASSUMED values, not a bug: letters released at
    the information stage (1 July 2019 10:00) come 17 hours after deadline + 5 months."""
    c = clock()
    c.letter_delivered(datetime(2019, 7, 1, 10, 0, tzinfo=BRUSSELS))
    [breach] = c.check(datetime(2019, 7, 1, 10, 5, tzinfo=BRUSSELS), RULES)
    assert breach.measure == "tti" and breach.days == 150


def test_the_earliest_letter_counts_whatever_order_deliveries_are_reported_in():
    c = clock()
    first, second = (datetime(2019, 6, 3, h, 0, tzinfo=BRUSSELS) for h in (9, 11))
    c.letter_delivered(second)
    c.letter_delivered(first)
    c.letter_delivered(second)
    assert c.informed_at == first
    assert c.time_to_inform == time_to_inform(DEADLINE, first, TZ)
    assert c.time_to_grant is None
    assert (c.limit("tti", RULES), c.limit("ttg", RULES)) == (TTI_LIMIT, TTG_LIMIT)


def test_a_breach_names_the_instant_the_target_fell_due():
    [breach] = clock().check(TTI_LIMIT + timedelta(days=1), RULES)
    assert breach.limit_at == TTI_LIMIT
