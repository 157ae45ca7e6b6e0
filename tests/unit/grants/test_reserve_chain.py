from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from shared.events import ReservePromoted, dump, load
from services.grants.domain.errors import GrantError
from services.grants.domain.grant import GrantFile
from services.grants.domain.reserve import TopicLedger

from .factories import AUTHORITY, INFORMED_AT, entry, make_call, ranking

# requested amounts below 90 % of costs, so each maximum grant equals its request
M = lambda pid, rank, amount: entry(pid, rank, amount, costs="2000000")  # noqa: E731


def open_topic(call, main, reserve, budget):
    ledger = TopicLedger.from_ranking(ranking(main, reserve, budget), call)
    files = {f.proposal_id: f for f in ledger.invite_main_list(call, INFORMED_AT, AUTHORITY)}
    for f in files.values():
        f.pull_events()
    return ledger, files


def decline(ledger, files, call, proposal_id, day):
    """The coordinator of ``proposal_id`` declines on ``day``; returns the decline and
    the files it promoted."""
    return decline_at(ledger, files, call, proposal_id, INFORMED_AT + timedelta(days=day))


def decline_at(ledger, files, call, proposal_id, now):
    """The coordinator of ``proposal_id`` declines at ``now``; returns the decline and
    the files it promoted."""
    files[proposal_id].decline(now)
    declined = files[proposal_id].pull_events()[-1]  # promoted files still hold their start
    new = ledger.on_grant_declined(declined, call, now, AUTHORITY)
    files.update({f.proposal_id: f for f in new})
    return declined, new


def promoted_ids(ledger):
    events = ledger.pull_events()
    assert all(isinstance(e, ReservePromoted) for e in events)
    return [e.proposal_id for e in events]


def test_ranking_commits_the_main_list_and_invites_it_once(call):
    ledger, files = open_topic(call, [M("M1", 1, "1000000"), M("M2", 2, "900000")],
                               [M("R1", 3, "500000")], "2000000")
    assert set(files) == {"M1", "M2"}
    assert ledger.committed == {"M1": Decimal("1000000.00"), "M2": Decimal("900000.00")}
    assert ledger.available == Decimal("100000.00")  # unallocated remainder
    assert ledger.invite_main_list(call, INFORMED_AT, AUTHORITY) == []
    assert [c.proposal_id for c in ledger.waiting()] == ["R1"]


def test_two_declines_in_a_row_each_promote_the_next_reserve_that_fits(call):
    ledger, files = open_topic(
        call, [M("M1", 1, "1000000"), M("M2", 2, "1000000"), M("M3", 3, "900000")],
        [M("R1", 4, "1000000"), M("R2", 5, "950000"), M("R3", 6, "500000")], "3000000")

    declined, new = decline(ledger, files, call, "M3", day=10)
    # freed 900,000 + unallocated 100,000 = 1,000,000: exactly R1
    [promotion] = ledger.pull_events()
    assert (promotion.proposal_id, promotion.rank, promotion.freed_by) == ("R1", 4, "M3")
    assert promotion.available_budget == Decimal("1000000.00")
    assert promotion.causation_id == declined.event_id
    assert load(dump(promotion)) == promotion
    [r1] = new
    assert r1.promoted_from_reserve and r1.max_grant == Decimal("1000000.00")
    [started] = r1.pull_events()
    assert started.promoted_from_reserve is True
    assert started.causation_id == promotion.event_id
    # fresh deadlines counted from the promotion, not from the original invitation
    assert r1.invited_at == INFORMED_AT + timedelta(days=10)
    assert r1.preparation_deadline == r1.invited_at + timedelta(days=60)
    assert ledger.available == Decimal("0.00")

    decline(ledger, files, call, "M1", day=12)
    assert promoted_ids(ledger) == ["R2"]
    assert ledger.available == Decimal("50000.00")
    assert [c.proposal_id for c in ledger.waiting()] == ["R3"]


def test_a_reserve_that_does_not_fit_is_skipped_then_reached_by_a_larger_release(call):
    ledger, files = open_topic(
        call, [M("M1", 1, "1000000"), M("M2", 2, "1000000"), M("M3", 3, "600000")],
        [M("R1", 4, "900000"), M("R2", 5, "550000"), M("R3", 6, "500000")], "2600000")

    decline(ledger, files, call, "M3", day=5)  # 600,000 free: R1 (900,000) does not fit
    assert promoted_ids(ledger) == ["R2"]
    assert [c.proposal_id for c in ledger.waiting()] == ["R1", "R3"]  # R1 still waits

    decline(ledger, files, call, "M1", day=6)  # 1,050,000 free: R1 outranks R3
    assert promoted_ids(ledger) == ["R1"]
    assert ledger.available == Decimal("150000.00")

    decline(ledger, files, call, "R2", day=7)  # a promoted grant declines too: chain goes on
    assert promoted_ids(ledger) == ["R3"]

    _, new = decline(ledger, files, call, "M2", day=8)  # reserve list exhausted
    assert new == [] and promoted_ids(ledger) == [] and ledger.waiting() == []
    assert ledger.available == Decimal("1200000.00")  # 2.6M - R1 0.9M - R3 0.5M
    assert ledger.promoted == ["R2", "R1", "R3"]


def test_one_large_release_promotes_every_reserve_that_fits_in_rank_order(call):
    ledger, files = open_topic(call, [M("M1", 1, "1000000")],
                               [M("R1", 2, "450000"), M("R2", 3, "600000"),
                                M("R3", 4, "500000")], "1000000")
    decline(ledger, files, call, "M1", day=1)
    assert promoted_ids(ledger) == ["R1", "R3"]  # R2 would not fit after R1


def test_redelivered_decline_releases_nothing_twice(call):
    ledger, files = open_topic(call, [M("M1", 1, "1000000")],
                               [M("R1", 2, "1000000"), M("R2", 3, "1000000")], "1000000")
    declined, _ = decline(ledger, files, call, "M1", day=1)
    assert promoted_ids(ledger) == ["R1"]
    assert ledger.on_grant_declined(declined, call, INFORMED_AT, AUTHORITY) == []
    assert promoted_ids(ledger) == [] and ledger.committed == {"R1": Decimal("1000000.00")}


def test_withdrawn_reserve_proposal_is_never_promoted(call):
    ledger, files = open_topic(call, [M("M1", 1, "1000000")],
                               [M("R1", 2, "1000000"), M("R2", 3, "1000000")], "1000000")
    ledger.drop_reserve("R1")
    decline(ledger, files, call, "M1", day=1)
    assert promoted_ids(ledger) == ["R2"]


def test_decline_of_a_grant_this_topic_never_committed_is_refused(call):
    ledger, _ = open_topic(call, [M("M1", 1, "1000000")], [], "1000000")
    stranger = GrantFile.start(replace(ledger.main[0], proposal_id="X9"), call, INFORMED_AT,
                               AUTHORITY)
    stranger.decline(INFORMED_AT)
    declined = stranger.pull_events()[-1]
    with pytest.raises(GrantError, match="no committed grant"):
        ledger.on_grant_declined(declined, call, INFORMED_AT, AUTHORITY)


@settings(max_examples=60, deadline=None)
@given(main=st.lists(st.integers(450, 1000), min_size=1, max_size=5),
       reserve=st.lists(st.integers(450, 1000), max_size=6),
       extra=st.integers(0, 800),
       order=st.randoms(use_true_random=False))
def test_chain_never_overcommits_and_leaves_no_waiting_reserve_that_fits(
        main, reserve, extra, order):
    call = make_call()
    thousand = lambda n: str(n * 1000)  # noqa: E731
    main_entries = [M(f"M{i}", i + 1, thousand(a)) for i, a in enumerate(main)]
    reserve_entries = [M(f"R{i}", len(main) + i + 1, thousand(a)) for i, a in enumerate(reserve)]
    budget = thousand(sum(main) + extra)
    ledger, files = open_topic(call, main_entries, reserve_entries, budget)
    promoted_so_far = []
    for day in range(1, 20):
        open_ids = sorted(pid for pid, f in files.items() if f.state.value == "invited")
        if not open_ids:
            break
        decline(ledger, files, call, order.choice(open_ids), day)
        promoted_so_far += promoted_ids(ledger)
        assert ledger.available >= 0
        assert all(ledger.amounts[c.proposal_id] > ledger.available for c in ledger.waiting())
    assert len(promoted_so_far) == len(set(promoted_so_far))
    ranks = {c.proposal_id: c.rank for c in ledger.reserve}
    assert set(promoted_so_far) <= set(ranks)


def test_a_ranking_that_cannot_open_a_ledger_is_refused_naming_every_problem():
    from services.grants.domain.reserve import check_ranking
    unranked = {**M("M1", 1, "1000000"), "rank": None}
    free = {**M("R1", 2, "1000000"), "requested_grant": Decimal("0")}
    twice = M("M1", 3, "500000")
    with pytest.raises(GrantError) as refused:
        check_ranking(ranking([unranked], [free, twice], "1000000"))
    message = str(refused.value)
    assert "main: proposal M1 has no rank" in message
    assert "reserve: proposal R1 has requested_grant 0" in message
    assert "reserve: proposal M1 is listed twice" in message
    check_ranking(ranking([M("M1", 1, "1000000")], [M("R1", 2, "900000")], "1000000"))


# --- a promoted reserve's signature deadline and the call's signature period -------------

def _with_signature_period(call, end, **grant_rules):
    from shared.calls.model import Stage
    from .factories import BRUSSELS
    from datetime import datetime
    period = Stage("signature", "Signature of grant agreements",
                   datetime(2019, 11, 1, 0, 0, tzinfo=BRUSSELS), end)
    return replace(call, timetable=(*call.timetable, period),
                   grants=replace(call.grants, **grant_rules))


def _promote_late(call, day):
    ledger, files = open_topic(call, [M("M1", 1, "1000000")], [M("R1", 2, "900000")],
                               "1000000")
    _, [promoted] = decline(ledger, files, call, "M1", day=day)
    return files["M1"], promoted


def test_a_promoted_reserve_is_never_given_a_signature_deadline_after_the_signature_period():
    from datetime import datetime
    from .factories import BRUSSELS
    end = datetime(2020, 1, 1, 0, 0, tzinfo=BRUSSELS)
    call = _with_signature_period(make_call(), end)
    main, promoted = _promote_late(call, day=100)  # 120 signature days would reach March 2020
    assert main.signature_deadline == INFORMED_AT + timedelta(days=120)  # main list: uncapped
    assert promoted.promoted_from_reserve
    assert promoted.signature_deadline == end
    assert promoted.preparation_deadline <= promoted.signature_deadline
    started = promoted.pull_events()[0]
    assert started.signature_deadline == end  # what the letters and operations are told


def test_the_call_file_can_allow_a_promoted_reserve_the_full_signature_days():
    from datetime import datetime
    from .factories import BRUSSELS
    end = datetime(2020, 1, 1, 0, 0, tzinfo=BRUSSELS)
    call = _with_signature_period(make_call(), end, reserve_signature_after_period=True)
    _, promoted = _promote_late(call, day=100)
    assert promoted.signature_deadline == promoted.invited_at + timedelta(days=120)
    assert promoted.signature_deadline > end


def test_an_early_promotion_keeps_its_full_signature_days():
    from datetime import datetime
    from .factories import BRUSSELS
    call = _with_signature_period(make_call(), datetime(2020, 1, 1, 0, 0, tzinfo=BRUSSELS))
    _, promoted = _promote_late(call, day=5)
    assert promoted.signature_deadline == promoted.invited_at + timedelta(days=120)


def test_a_file_ending_at_or_after_the_end_of_the_signature_period_promotes_no_one():
    from datetime import datetime
    from .factories import BRUSSELS
    end = datetime(2020, 1, 1, 0, 0, tzinfo=BRUSSELS)
    call = _with_signature_period(make_call(), end)
    for at in (end, end + timedelta(minutes=1)):
        ledger, files = open_topic(call, [M("M1", 1, "1000000")], [M("R1", 2, "900000")],
                                   "1000000")
        assert decline_at(ledger, files, call, "M1", at)[1] == []
        assert ledger.pull_events() == []
        assert ledger.available == Decimal("1000000")  # released, left unspent
        assert [c.proposal_id for c in ledger.waiting()] == ["R1"]


def test_a_call_allowing_signature_after_the_period_still_promotes_after_it():
    from datetime import datetime
    from .factories import BRUSSELS
    end = datetime(2020, 1, 1, 0, 0, tzinfo=BRUSSELS)
    call = _with_signature_period(make_call(), end, reserve_signature_after_period=True)
    ledger, files = open_topic(call, [M("M1", 1, "1000000")], [M("R1", 2, "900000")],
                               "1000000")
    _, [promoted] = decline_at(ledger, files, call, "M1", end + timedelta(days=1))
    assert promoted.proposal_id == "R1" and promoted.signature_deadline > end
