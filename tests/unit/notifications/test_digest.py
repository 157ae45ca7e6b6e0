from datetime import date, datetime, timedelta, timezone

from shared.events import NotificationDelivered, NotificationFailed
from services.notifications.adapters.rendering import render
from services.notifications.domain.digest import (DeadLetter, build_digest, digest_days,
                                                  digest_notifications, reports_quiet_days)

from . import factories as f

DAY = date(2019, 6, 30)


def delivered(template, at):
    return NotificationDelivered(**f.envelope(at=at), notification_id="n", source_event_id="s",
                                 source_event_type="x", recipient="a@b.example",
                                 template=template, message_id="m", sent_at=at)


def failed(at):
    return NotificationFailed(**f.envelope(at=at), notification_id="n2", source_event_id="s2",
                              source_event_type="proposal_screened",
                              recipient="bounced@nowhere.example", template="screening_result",
                              reason="550 mailbox unavailable", proposal_id="P-0042")


def todays_events():
    # 30 June 2019 in Brussels is 29 June 22:00 UTC .. 30 June 22:00 UTC
    return [
        delivered("result_letter", datetime(2019, 6, 29, 22, 0, tzinfo=timezone.utc)),
        delivered("result_letter", datetime(2019, 6, 30, 21, 59, tzinfo=timezone.utc)),
        delivered("grant_signed", datetime(2019, 6, 30, 12, 0, tzinfo=timezone.utc)),
        failed(datetime(2019, 6, 30, 8, 0, tzinfo=timezone.utc)),
        f.breached(),  # 30 June 17:00:01 Brussels
        # outside the day in Brussels, though inside it in UTC
        delivered("result_letter", datetime(2019, 6, 30, 22, 0, tzinfo=timezone.utc)),
        delivered("result_letter", datetime(2019, 6, 29, 21, 59, tzinfo=timezone.utc)),
    ]


DEAD = [DeadLetter("grants.evaluation_completed.dlq", "evaluation_completed", "e-1",
                   "KeyError: 'topic'", datetime(2019, 6, 30, 3, 0, tzinfo=f.BRUSSELS)),
        DeadLetter("notifications.q.dlq", "ranking_published", "e-2", "timeout",
                   datetime(2019, 7, 1, 0, 0, tzinfo=f.BRUSSELS))]


def test_digest_counts_only_the_day_in_the_call_time_zone():
    digest = build_digest(DAY, "Europe/Brussels", todays_events(), DEAD)
    assert digest.events == {"notification_delivered": 3, "notification_failed": 1,
                             "time_target_breached": 1}
    assert digest.delivered == {"grant_signed": 1, "result_letter": 2}
    assert digest.failed == {"screening_result": 1}
    assert [b.measure for b in digest.breaches] == ["tti"]


def test_digest_lists_every_dead_letter_waiting_whenever_it_died():
    """The queue's timestamps are wall-clock; what matters is what still waits."""
    digest = build_digest(DAY, "Europe/Brussels", [], list(reversed(DEAD)))
    assert [d.event_id for d in digest.dead_letters] == ["e-1", "e-2"]  # oldest first


def test_digest_goes_once_per_operations_address_and_renders(call):
    digest = build_digest(DAY, "Europe/Brussels", todays_events(), DEAD)
    notes = digest_notifications(digest, f.CALL_ID, f.OPS)
    assert [x.recipient for x in notes] == ["ops@grantflow.example.eu",
                                            "duty@grantflow.example.eu"]
    assert notes[0].key == (f"daily-digest:{f.CALL_ID}:2019-06-30", "ops@grantflow.example.eu",
                            "daily_digest")
    rendered = render(notes[0].template, notes[0].context)
    assert rendered.subject == (f"[{f.CALL_ID}] Daily digest for 30 June 2019: 5 events, "
                                "1 failed notifications, 2 dead letters, 1 breaches")
    for fact in ("550 mailbox unavailable", "bounced@nowhere.example", "KeyError: 'topic'",
                 "grants.evaluation_completed.dlq", "proposal P-0042: time to inform 149 days",
                 "result_letter"):
        assert fact in rendered.body


def test_an_empty_day_renders_too():
    digest = build_digest(DAY, "Europe/Brussels", [], [])
    [note] = digest_notifications(digest, f.CALL_ID, f.OPS[:1])
    body = render(note.template, note.context).body
    assert "EVENTS SEEN: 0" in body and "DEAD LETTERS: 0" in body


# the factory call's timetable runs from the deadline (31 Jan 2019) to 31 July 2019
IN_TIMETABLE, AFTER = date(2019, 3, 10), date(2019, 9, 10)


def test_quiet_days_are_reported_only_while_the_timetable_runs(call):
    assert reports_quiet_days(call, date(2019, 1, 31))
    assert reports_quiet_days(call, IN_TIMETABLE)
    assert reports_quiet_days(call, date(2019, 7, 31))
    assert not reports_quiet_days(call, date(2019, 1, 30))
    assert not reports_quiet_days(call, AFTER)


def test_yesterday_is_due_once_and_today_never(call):
    today = IN_TIMETABLE
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    assert digest_days(today, before, [], call) == [yesterday]
    assert digest_days(today, yesterday, [], call) == []
    assert digest_days(today, before, [today], call) == [yesterday]  # today is not over
    assert digest_days(today, None, [today - timedelta(days=5)], call) == \
        [today - timedelta(days=5), yesterday]


def test_no_digest_for_days_before_the_service_saw_the_call(call):
    today = IN_TIMETABLE
    assert digest_days(today, None, [], call) == []
    assert digest_days(today, None, [today], call) == []  # first events today: tomorrow


def test_active_days_since_the_last_digest_are_caught_up_oldest_first(call):
    today = AFTER
    active = [today - timedelta(days=n) for n in (1, 3, 9, 30)]
    assert digest_days(today, today - timedelta(days=10), active, call) == \
        [today - timedelta(days=9), today - timedelta(days=3), today - timedelta(days=1)]
    # after the timetable a quiet yesterday gets nothing
    assert digest_days(today, today - timedelta(days=2), [], call) == []


def test_a_long_gap_catches_up_only_the_latest_days(call):
    today = IN_TIMETABLE
    active = [today - timedelta(days=n) for n in range(2, 40)]
    days = digest_days(today, None, active, call, most=7)
    assert len(days) == 7 and days[-1] == today - timedelta(days=1)
    assert days == sorted(days)
