"""Event handlers against a real SQLite unit of work: what each event queues, once."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from services.notifications.handlers import CallNotKnownYet
from services.notifications.domain.delivery import FAILED, QUEUED, SENT
from shared.events import EvaluationReportSubmitted
from shared.events.base import new_event_id
from shared.messaging.consumer import PermanentFailure

from . import factories as f
from .service_support import (FakeMailer, call_published, deliver, handle, outbox_types,
                              rows)

NOW = datetime(2019, 2, 1, 9, 0, tzinfo=timezone.utc)
CONTACTS = ["anna.rossi@comune.example.it", "office@comune.example.it"]


def test_a_receipt_is_queued_rendered_for_each_contact_then_delivered_once(uows):
    handle(uows, call_published())
    assert handle(uows, f.submitted()) == 2
    queued = rows(uows)
    assert [r.recipient for r in queued] == CONTACTS
    assert all(r.status == QUEUED and r.template == "submission_receipt" for r in queued)
    assert f.CONTENT_HASH in queued[0].body and "CITYNET" in queued[0].subject

    mailer = FakeMailer()
    assert deliver(uows, mailer, NOW) == 2
    assert sorted(m.recipient for m in mailer.sent) == CONTACTS
    assert {m.message_id for m in mailer.sent} == {r.message_id for r in queued}
    sent = rows(uows)
    assert all(r.status == SENT and r.sent_at == NOW and r.attempts == 1 for r in sent)
    assert outbox_types(uows).count("notification_delivered") == 2
    assert deliver(uows, mailer, NOW) == 0 and len(mailer.sent) == 2


def test_a_redelivered_event_queues_nothing_more(uows):
    handle(uows, call_published())
    event = f.submitted()
    handle(uows, event)
    assert handle(uows, event) is None  # consume: already processed
    # even a handler that did not record the event id (another consumer name) adds nothing
    assert handle(uows, event, consumer="notifications.other") == 0
    assert len(rows(uows)) == 2


def test_an_event_before_its_call_is_retried_not_guessed(uows):
    event = f.submitted()
    with pytest.raises(CallNotKnownYet, match="call_published"):
        handle(uows, event)
    assert rows(uows) == []
    handle(uows, call_published())
    assert handle(uows, event) == 2  # the retry works: nothing was recorded the first time


def test_events_that_tell_nobody_and_feed_no_letter_need_no_call(uows):
    report = EvaluationReportSubmitted(**f.envelope(), proposal_id="P-0042", topic_id=f.TOPIC,
                                       expert_id="EX-7", total=f.SCORES["relevance"], final=True)
    assert handle(uows, report) == 0
    with pytest.raises(CallNotKnownYet):  # a letter fact waits for its call
        handle(uows, f.completed())


def test_an_invalid_call_is_a_permanent_failure(uows):
    broken = replace(call_published(), call={"id": f.CALL_ID, "title": "no timetable"})
    with pytest.raises(PermanentFailure, match="invalid call"):
        handle(uows, broken)


def test_a_newer_call_version_replaces_the_kept_one_and_an_older_does_not(uows):
    from services.notifications.adapters import store
    first, second = call_published(1), call_published(1)
    handle(uows, first)
    handle(uows, second)  # same version again, another event: kept once
    with uows() as uow:
        assert store.load_call(uow.session, f.CALL_ID).version == 1


def _letters(uows):
    return [(r.proposal_id, r.recipient, r.context["outcome"])
            for r in rows(uows, template="result_letter")]


def about(event, proposal_id):
    """The same event about another proposal (a new event id)."""
    return replace(event, event_id=new_event_id(), proposal_id=proposal_id,
                   correlation_id=proposal_id)


def test_letters_wait_for_the_milestone_then_go_once_each_never_to_the_withdrawn(uows):
    handle(uows, call_published())
    handle(uows, about(f.screened(eligible=False, failed=f.FAILED_RULES), "P-0001"))
    handle(uows, f.screened())
    handle(uows, f.completed())
    handle(uows, replace(f.ranking(), main=[f.ranking_entry("P-0042", 1)],
                         reserve=[f.ranking_entry("P-0007", 1)]))
    handle(uows, about(f.screened(), "P-0099"))
    handle(uows, about(f.withdrawn(), "P-0099"))
    assert _letters(uows) == []  # nothing before the milestone

    handle(uows, f.stage(), now=f.RELEASE_AT)
    outcomes = {(p, o) for p, _, o in _letters(uows)}
    # P-0007 was ranked but its screening was not seen yet: pending, no letter
    assert outcomes == {("P-0001", "ineligible"), ("P-0042", "selected")}
    assert len(_letters(uows)) == 4  # two contacts each

    handle(uows, about(f.screened(), "P-0007"), now=f.RELEASE_AT + timedelta(days=1))
    assert ("P-0007", "reserve") in {(p, o) for p, _, o in _letters(uows)}
    # a second release milestone (the period form) re-derives every letter: no new row
    handle(uows, f.stage("information_to_applicants_start"), now=f.RELEASE_AT)
    assert len(_letters(uows)) == 6


def test_facts_arriving_in_any_order_give_the_same_letter(uows):
    handle(uows, call_published())
    handle(uows, f.ranking("reserve", rank=4))  # ranking before screening and consensus
    handle(uows, f.stage(), now=f.RELEASE_AT)
    assert _letters(uows) == []  # not screened yet: pending
    handle(uows, f.screened())
    assert {o for *_, o in _letters(uows)} == {"reserve"}
    handle(uows, f.completed())  # consensus after the letter: no second letter
    assert len(_letters(uows)) == 2


def test_a_template_that_fails_ends_its_row_failed_and_the_others_still_go(uows, monkeypatch):
    from services.notifications.adapters.rendering import RenderError
    from services.notifications.handlers import delivery
    real = delivery.render

    def flaky(template, context):
        if context["recipient"] == "office@comune.example.it":
            raise RenderError("template 'submission_receipt' needs a value: boom")
        return real(template, context)

    monkeypatch.setattr(delivery, "render", flaky)
    handle(uows, call_published())
    handle(uows, f.submitted())
    by_recipient = {r.recipient: r for r in rows(uows)}
    failed = by_recipient["office@comune.example.it"]
    assert failed.status == FAILED and failed.subject is None
    assert failed.last_error.startswith("render error: ") and "boom" in failed.last_error
    assert by_recipient["anna.rossi@comune.example.it"].status == QUEUED
    assert outbox_types(uows) == ["notification_failed"]
    assert deliver(uows, FakeMailer(), NOW) == 1  # the failed row is never sent


def test_each_person_event_reaches_the_log_with_its_template(uows):
    handle(uows, call_published())
    for event in (f.assigned(), f.released(), f.preparation_started(),
                  f.signature_requested("authority"), f.signed(), f.declined(),
                  f.promoted(), f.breached()):
        handle(uows, event)
    templates = {r.template for r in rows(uows)}
    assert templates == {"evaluator_assigned", "evaluator_released", "grant_invitation",
                         "signature_request_authority", "grant_signed", "grant_declined",
                         "reserve_promoted", "time_target_breach"}
    breach = rows(uows, template="time_target_breach")
    assert [r.recipient for r in breach] == ["ops@grantflow.example.eu"]


def test_a_proposal_withdrawn_at_the_deadline_gets_no_passed_to_evaluation_mail(uows):
    handle(uows, call_published())
    handle(uows, about(f.withdrawn(), "P-0099"))  # frozen at the deadline, then withdrawn
    handle(uows, about(f.screened(), "P-0099"))
    handle(uows, about(f.screened(), "P-0100"))
    screening = {r.proposal_id for r in rows(uows, template="screening_result")}
    assert screening == {"P-0100"}
