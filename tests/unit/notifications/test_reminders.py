from datetime import datetime, timedelta

import pytest

from services.notifications.domain.reminders import Assignment, due_reminders, next_reminder_at

from . import factories as f

DUE = datetime(2019, 3, 3, 17, 0, tzinfo=f.BRUSSELS)
ASSIGNED = f.assigned()  # due at DUE


def assignment(**kw):
    return Assignment(**{**vars(Assignment.from_event(ASSIGNED)), **kw})


def replay(call, start, end, step=timedelta(hours=1), *, record=True, **kw):
    """Tick the clock from start to end; the service records what it sent when ``record``."""
    current = assignment(**kw)
    sent = []
    now = start
    while now <= end:
        for reminder in due_reminders([current], call, now):
            sent.append((now, reminder.days_before, reminder.notification.key))
            if record:
                current = Assignment(**{**vars(current), "reminded_days":
                                        current.reminded_days | {reminder.days_before}})
        now += step
    return sent


def test_seven_and_two_days_before_each_sent_exactly_once(call):
    sent = replay(call, datetime(2019, 2, 10, 9, 0, tzinfo=f.BRUSSELS), DUE + timedelta(days=2))
    assert [(at, days) for at, days, _ in sent] == [
        (datetime(2019, 2, 24, 17, 0, tzinfo=f.BRUSSELS), 7),
        (datetime(2019, 3, 1, 17, 0, tzinfo=f.BRUSSELS), 2)]
    assert [key for *_, key in sent] == [
        (f"reminder:{ASSIGNED.event_id}:{days}d", "m.schmidt@experts.example.eu",
         "evaluation_reminder") for days in (7, 2)]


def test_keys_stay_the_same_when_the_caller_forgets_to_record(call):
    sent = replay(call, datetime(2019, 2, 24, 17, 0, tzinfo=f.BRUSSELS),
                  datetime(2019, 2, 24, 20, 0, tzinfo=f.BRUSSELS), record=False)
    assert len(sent) == 4 and len({key for *_, key in sent}) == 1  # one message per key


def test_a_service_down_for_days_sends_only_the_most_urgent_reminder(call):
    late = datetime(2019, 3, 2, 9, 0, tzinfo=f.BRUSSELS)
    [reminder] = due_reminders([assignment()], call, late)
    assert reminder.days_before == 2
    assert reminder.notification.context["time_left"] == "1 day and 8 hours"
    sent = replay(call, late, DUE, reminded_days=frozenset({2}))
    assert sent == []


def test_late_assignment_gets_no_reminder_whose_time_was_before_it(call):
    assigned_at = datetime(2019, 2, 28, 10, 0, tzinfo=f.BRUSSELS)  # 3.3 days before due
    sent = replay(call, assigned_at, DUE, assigned_at=assigned_at)
    assert [days for _, days, _ in sent] == [2]


@pytest.mark.parametrize("state", [{"finalised": True}, {"released": True}])
def test_finalised_or_released_assignments_get_no_reminder(call, state):
    assert replay(call, datetime(2019, 2, 20, tzinfo=f.BRUSSELS), DUE, **state) == []


def test_nothing_after_the_due_instant(call):
    assert due_reminders([assignment()], call, DUE) == []


def test_naive_now_is_refused(call):
    with pytest.raises(ValueError):
        due_reminders([assignment()], call, datetime(2019, 3, 1))


def test_next_reminder_instant_follows_what_was_sent():
    week, two_days = DUE - timedelta(days=7), DUE - timedelta(days=2)
    assert next_reminder_at(assignment()) == week
    assert next_reminder_at(assignment(reminded_days=frozenset({7}))) == two_days
    assert next_reminder_at(assignment(reminded_days=frozenset({2}))) is None
    late = datetime(2019, 2, 28, 10, 0, tzinfo=f.BRUSSELS)  # after the 7-day instant
    assert next_reminder_at(assignment(assigned_at=late)) == two_days
    assert next_reminder_at(assignment(released=True)) is None


def test_a_reminder_is_never_due_before_its_next_instant(call):
    """The service reads only assignments whose next instant has come: nothing is missed."""
    current = assignment()
    now = datetime(2019, 2, 10, 9, 0, tzinfo=f.BRUSSELS)
    while now < DUE:
        due = due_reminders([current], call, now)
        instant = next_reminder_at(current)
        assert not due or (instant is not None and instant <= now)
        for reminder in due:
            current = Assignment(**{**vars(current), "reminded_days":
                                    current.reminded_days | {reminder.days_before}})
        now += timedelta(hours=1)
    assert current.reminded_days == {7, 2}
