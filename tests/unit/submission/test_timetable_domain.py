"""Which milestones are due (domain, no database): time order, never skipping."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from services.submission.domain.timetable import current_stage, due_milestones
from shared.calls.model import milestones

from .factories import CALL, with_deadline

UTC = timezone.utc
KEYS = [m.key for m in milestones(CALL)]


def test_nothing_is_due_before_publication_and_everything_after_the_last_stage():
    assert due_milestones(CALL, set(), datetime(2018, 1, 1, tzinfo=UTC)) == []
    assert current_stage(CALL, datetime(2018, 1, 1, tzinfo=UTC)) is None
    late = datetime(2030, 1, 1, tzinfo=UTC)
    assert [m.key for m in due_milestones(CALL, set(), late)] == KEYS
    assert current_stage(CALL, late).key == "signature_end"


def test_fired_milestones_are_not_due_again_and_the_newest_deadline_counts():
    now = CALL.deadline
    assert [m.key for m in due_milestones(CALL, {"publication"}, now)] == \
        ["submission_deadline"]
    moved = with_deadline(CALL, CALL.deadline + timedelta(hours=3))
    assert [m.key for m in due_milestones(moved, {"publication"}, now)] == []


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        due_milestones(CALL, set(), datetime(2019, 1, 1))


@given(st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2021, 1, 1),
                    timezones=st.just(UTC)),
       st.sets(st.sampled_from(KEYS)))
def test_due_milestones_are_exactly_the_reached_unfired_ones_in_time_order(now, fired):
    due = due_milestones(CALL, fired, now)
    assert [m.key for m in due] == [k for k in KEYS if k not in fired
                                    and next(m for m in milestones(CALL) if m.key == k).at <= now]
    assert [m.at for m in due] == sorted(m.at for m in due)
