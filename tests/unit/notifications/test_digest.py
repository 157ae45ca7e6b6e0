from datetime import date, datetime, timezone

from shared.events import NotificationDelivered, NotificationFailed
from services.notifications.adapters.rendering import render
from services.notifications.domain.digest import (DeadLetter, build_digest,
                                                  digest_notifications)

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
    assert [d.event_id for d in digest.dead_letters] == ["e-1"]
    assert [b.measure for b in digest.breaches] == ["tti"]


def test_digest_goes_once_per_operations_address_and_renders(call):
    digest = build_digest(DAY, "Europe/Brussels", todays_events(), DEAD)
    notes = digest_notifications(digest, f.CALL_ID, f.OPS)
    assert [x.recipient for x in notes] == ["ops@grantflow.example.eu",
                                            "duty@grantflow.example.eu"]
    assert notes[0].key == (f"daily-digest:{f.CALL_ID}:2019-06-30", "ops@grantflow.example.eu",
                            "daily_digest")
    rendered = render(notes[0].template, notes[0].context)
    assert rendered.subject == (f"[{f.CALL_ID}] Daily digest for 30 June 2019: 5 events, "
                                "1 failed notifications, 1 dead letters, 1 breaches")
    for fact in ("550 mailbox unavailable", "bounced@nowhere.example", "KeyError: 'topic'",
                 "grants.evaluation_completed.dlq", "proposal P-0042: time to inform 149 days",
                 "result_letter"):
        assert fact in rendered.body


def test_an_empty_day_renders_too():
    digest = build_digest(DAY, "Europe/Brussels", [], [])
    [note] = digest_notifications(digest, f.CALL_ID, f.OPS[:1])
    body = render(note.template, note.context).body
    assert "EVENTS SEEN: 0" in body and "DEAD LETTERS: 0" in body
