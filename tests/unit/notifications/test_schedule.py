"""Reminders and the daily digest on the service clock: due once, never twice."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from services.notifications.domain.digest import DeadLetter
from services.notifications.handlers import schedule, send_digests, send_reminders
from services.notifications.handlers.delivery import queue
from shared.events import EvaluationReportSubmitted
from shared.events.base import new_event_id

from . import factories as f
from services.notifications.adapters.mailer import PermanentMailError

from .service_support import (FakeDeadLetters, FakeMailer, call_published, deliver, handle,
                              rows, settings)

DUE = datetime(2019, 3, 3, 17, 0, tzinfo=f.BRUSSELS)
EXPERT = "m.schmidt@experts.example.eu"


def remind(uows, now):
    return send_reminders(uows(), now, settings())


def test_reminders_seven_and_two_days_before_each_once(uows):
    handle(uows, call_published())
    handle(uows, f.assigned())
    assert remind(uows, DUE - timedelta(days=8)) == 0
    assert remind(uows, DUE - timedelta(days=7)) == 1
    assert remind(uows, DUE - timedelta(days=6)) == 0
    assert remind(uows, DUE - timedelta(days=2)) == 1
    assert remind(uows, DUE - timedelta(hours=1)) == 0
    reminders = rows(uows, template="evaluation_reminder")
    assert [(r.recipient, r.context["days_before"]) for r in reminders] == [(EXPERT, 7),
                                                                          (EXPERT, 2)]
    assert "2 days" in reminders[1].subject


def test_a_service_back_after_days_sends_only_the_most_urgent(uows):
    handle(uows, call_published())
    handle(uows, f.assigned())
    assert remind(uows, DUE - timedelta(days=1)) == 1
    assert remind(uows, DUE - timedelta(hours=2)) == 0
    assert [r.context["days_before"] for r in rows(uows, template="evaluation_reminder")] == [2]


def test_reminders_go_a_page_of_assignments_per_transaction_each_once_after_a_crash(
        uows, monkeypatch):
    """A tick may owe a reminder to every open assignment of a call: they are queued a
    page of assignments per transaction. A crash in the second page keeps the first
    page's reminders; the next tick sends the rest, none twice."""
    handle(uows, call_published())
    experts = [f"EX-{n}" for n in range(5)]
    for expert_id in experts:
        handle(uows, replace(f.assigned(), event_id=new_event_id(), expert_id=expert_id,
                             expert_email=f"{expert_id.lower()}@experts.example.eu"))
    monkeypatch.setattr(schedule, "REMIND_PAGE", 2)
    pages = []

    def second_page_fails(uow, notes, now):
        pages.append(len(notes))
        if len(pages) == 2:
            raise OSError("the database went away")
        return queue(uow, notes, now)
    monkeypatch.setattr(schedule, "queue", second_page_fails)

    with pytest.raises(OSError):
        remind(uows, DUE - timedelta(days=7))
    assert len(rows(uows, template="evaluation_reminder")) == 2  # the first page's

    monkeypatch.setattr(schedule, "queue", queue)
    assert remind(uows, DUE - timedelta(days=7)) == 3
    assert remind(uows, DUE - timedelta(days=7)) == 0
    reminded = sorted(r.recipient for r in rows(uows, template="evaluation_reminder"))
    assert reminded == sorted(f"{e.lower()}@experts.example.eu" for e in experts)


def test_released_or_finished_assignments_get_no_reminder_whatever_the_order(uows):
    handle(uows, call_published())
    released_first = f.released()  # arrives before the assignment it ends
    handle(uows, released_first)
    handle(uows, replace(f.assigned(), occurred_at=released_first.occurred_at
                         - timedelta(days=140)))
    other = replace(f.assigned(), event_id=new_event_id(), expert_id="EX-8",
                    expert_email="other@experts.example.eu")
    handle(uows, other)
    handle(uows, EvaluationReportSubmitted(**f.envelope(at=DUE - timedelta(days=10)),
                                           proposal_id="P-0042", topic_id=f.TOPIC,
                                           expert_id="EX-8", total=f.SCORES["quality"],
                                           final=True))
    for days in (7, 2):
        assert remind(uows, DUE - timedelta(days=days)) == 0


def digest(uows, now, letters=()):
    return send_digests(uows(), now, settings(), FakeDeadLetters(letters))


def test_a_day_with_events_gets_one_digest_per_operations_address_once(uows):
    handle(uows, call_published())
    handle(uows, f.submitted())  # 31 January 2019, 16:59:58 Brussels
    refused = PermanentMailError("550 5.1.1 no such user")
    deliver(uows, FakeMailer(failures={"office@comune.example.it": refused}),
            datetime(2019, 1, 31, 17, 30, tzinfo=f.BRUSSELS))
    after = datetime(2019, 2, 1, 0, 30, tzinfo=f.BRUSSELS)
    letter = DeadLetter("evt-submission-all--grants.x", "proposal_screened", "e-1",
                        "KeyError: 'topic'", datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert digest(uows, after, [letter]) == 2  # the publication day and 31 January
    assert digest(uows, after + timedelta(hours=5)) == 0
    made = {r.context["day"]: r for r in rows(uows, template="daily_digest")}
    assert set(made) == {"26 July 2018", "31 January 2019"}
    january = made["31 January 2019"]
    assert january.recipient == "ops@grantflow.example.eu"
    assert "proposal_submitted" in january.body and "EVENTS SEEN: 3" in january.body
    # our own outcomes that day, read from the delivery log
    assert "NOTIFICATIONS DELIVERED: 1" in january.body
    assert "NOTIFICATIONS FAILED: 1" in january.body and "550 5.1.1 no such user" in january.body
    assert "KeyError: 'topic'" in january.body and "DEAD LETTERS: 1" in january.body


def test_a_quiet_day_in_the_timetable_is_digested_too(uows):
    handle(uows, call_published())
    assert digest(uows, datetime(2019, 3, 11, 8, 0, tzinfo=f.BRUSSELS)) == 2
    quiet = [r for r in rows(uows, template="daily_digest")
             if r.context["day"] == "10 March 2019"]
    assert quiet and "EVENTS SEEN: 0" in quiet[0].body
    assert digest(uows, datetime(2019, 3, 11, 23, 0, tzinfo=f.BRUSSELS)) == 0


def test_a_digest_counts_in_the_database_and_still_lists_each_breach(uows):
    """The day's events are counted by the database, not loaded one by one; breaches
    (and failures) are still read whole to be listed, and other days do not count."""
    handle(uows, call_published())
    for measure in ("tti", "ttg"):
        handle(uows, f.breached(measure))  # 30 June 2019, 17:00 Brussels
    for n in range(3):
        handle(uows, replace(f.completed(), event_id=new_event_id(),
                             occurred_at=datetime(2019, 6, 30, 9, n, tzinfo=f.BRUSSELS)))
    handle(uows, replace(f.completed(), event_id=new_event_id(),  # the day after
                         occurred_at=datetime(2019, 7, 1, 0, 0, 1, tzinfo=f.BRUSSELS)))

    digest(uows, datetime(2019, 7, 2, 1, 0, tzinfo=f.BRUSSELS))

    june = [r for r in rows(uows, template="daily_digest") if r.context["day"] == "30 June 2019"]
    assert june and "EVENTS SEEN: 5" in june[0].body
    assert "proposal P-0042: time to inform 149 days" in june[0].body
    assert "proposal P-0042: time to grant 149 days" in june[0].body
