"""Properties of resolving local wall times in a zone (hypothesis)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from shared.calls.fields import LocalTimeError, WallTime, resolve_wall_time

UTC = timezone.utc
BRUSSELS = ZoneInfo("Europe/Brussels")
naive_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1))


@given(naive_times)
def test_a_wall_time_resolves_to_the_one_instant_that_shows_it_or_is_refused(wall):
    # the instants within a day that show this wall time in Brussels, found by brute force
    candidates = {(wall - timedelta(hours=h)).replace(tzinfo=UTC) for h in (-1, 0, 1, 2, 3)}
    showing = {c for c in candidates if c.astimezone(BRUSSELS).replace(tzinfo=None) == wall}
    if len(showing) == 1:
        assert resolve_wall_time(WallTime(wall), BRUSSELS) == showing.pop()
    else:  # none (skipped) or two (repeated): only an explicit offset can say which
        with pytest.raises(LocalTimeError):
            resolve_wall_time(WallTime(wall), BRUSSELS)


@given(naive_times, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_an_explicit_offset_is_taken_as_given(wall, minutes):
    written = wall.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    assert resolve_wall_time(WallTime(written), BRUSSELS) == written
