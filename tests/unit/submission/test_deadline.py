"""On time means received strictly before the deadline instant, in any time zone."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, strategies as st

from services.submission.domain.deadline import is_closed, is_on_time, utc_iso

from .factories import BRUSSELS, CALL

UTC = timezone.utc
DEADLINE = CALL.deadline  # 2019-01-31 17:00 Brussels


@pytest.mark.parametrize("received,on_time", [
    (datetime(2019, 1, 31, 16, 59, 59, tzinfo=BRUSSELS), True),
    (datetime(2019, 1, 31, 16, 59, 59, 999999, tzinfo=BRUSSELS), True),
    (datetime(2019, 1, 31, 17, 0, 0, tzinfo=BRUSSELS), False),  # at the instant: late
    (datetime(2019, 1, 31, 16, 30, tzinfo=UTC), False),  # 16:30Z = 17:30 Brussels (CET)
    (datetime(2019, 1, 31, 15, 59, 59, tzinfo=UTC), True),
    (datetime(2019, 1, 31, 10, 59, tzinfo=ZoneInfo("America/New_York")), True),  # 15:59Z
    (datetime(2019, 1, 31, 11, 0, tzinfo=ZoneInfo("America/New_York")), False),  # 16:00Z
])
def test_examples_around_the_amif_deadline(received, on_time):
    assert is_on_time(received, DEADLINE) is on_time
    assert is_closed(received, DEADLINE) is not on_time


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        is_on_time(datetime(2019, 1, 31, 16, 0), DEADLINE)


def test_same_zone_comparison_respects_fold_on_the_autumn_dst_change():
    # Brussels, 27 Oct 2019: 02:45 CEST (first pass, 00:45Z) comes BEFORE 02:30 CET
    # (second pass, 01:30Z), although its wall time is later.
    deadline = datetime(2019, 10, 27, 2, 30, tzinfo=BRUSSELS, fold=1)
    received = datetime(2019, 10, 27, 2, 45, tzinfo=BRUSSELS, fold=0)
    assert is_on_time(received, deadline)
    assert not is_on_time(deadline, received)


def test_utc_iso_has_one_text_per_instant():
    assert utc_iso(datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)) == \
        "2019-01-31T16:00:00.000000+00:00"


# ----------------------------------------------------------------------- properties
instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1),
                        timezones=st.just(UTC))
gaps = st.one_of(st.sampled_from([timedelta(0), timedelta(microseconds=1),
                                  timedelta(microseconds=-1), timedelta(seconds=-1),
                                  timedelta(hours=1), timedelta(hours=-1)]),
                 st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)))


@given(deadline=instants, gap=gaps, received_zone=st.timezones(), deadline_zone=st.timezones())
@example(deadline=DEADLINE, gap=timedelta(0), received_zone=BRUSSELS, deadline_zone=UTC)
@example(deadline=DEADLINE, gap=timedelta(minutes=30), received_zone=UTC, deadline_zone=BRUSSELS)
def test_on_time_iff_strictly_before_whatever_the_zones(deadline, gap, received_zone,
                                                        deadline_zone):
    received = (deadline + gap).astimezone(received_zone)
    assert is_on_time(received, deadline.astimezone(deadline_zone)) is (gap < timedelta(0))


def _brussels_transitions():
    """The instants Brussels changed clocks, 2018-2021: last Sundays of March and October
    at 01:00 UTC (EU rule)."""
    moments = []
    for year in range(2018, 2022):
        for month in (3, 10):
            day = datetime(year, month, 31, 1, 0, tzinfo=UTC)
            moments.append(day - timedelta(days=(day.weekday() + 1) % 7))
    return moments


@given(transition=st.sampled_from(_brussels_transitions()),
       offset=st.timedeltas(min_value=timedelta(hours=-2), max_value=timedelta(hours=2)),
       gap=st.timedeltas(min_value=timedelta(hours=-2), max_value=timedelta(hours=2)))
def test_on_time_across_dst_changes_with_both_times_in_brussels(transition, offset, gap):
    # both in the same ZoneInfo: the case where naive wall-time comparison goes wrong
    deadline = (transition + offset).astimezone(BRUSSELS)
    received = (transition + offset + gap).astimezone(BRUSSELS)
    assert is_on_time(received, deadline) is (gap < timedelta(0))
