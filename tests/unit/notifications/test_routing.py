import json
from datetime import datetime, timezone

import pytest

from shared.events import (DeadlineClosed, NotificationDelivered, dump, load)
from services.notifications.domain import notification as n
from services.notifications.domain.routing import route

from . import factories as f

APPLICANTS = ["anna.rossi@comune.example.it", "office@comune.example.it"]


def targets(notes):
    return [(x.recipient, x.role, x.template) for x in notes]


@pytest.mark.parametrize("event,expected", [
    (f.submitted(), [(a, n.APPLICANT_CONTACT, n.SUBMISSION_RECEIPT) for a in APPLICANTS]),
    (f.withdrawn(), [(a, n.APPLICANT_CONTACT, n.WITHDRAWAL_CONFIRMATION) for a in APPLICANTS]),
    (f.screened(), [(a, n.APPLICANT_CONTACT, n.SCREENING_RESULT) for a in APPLICANTS]),
    (f.call_published(2), [("lead@ngo.example.org", n.REGISTERED_APPLICANT, n.CALL_AMENDED),
                           ("city@town.example.de", n.REGISTERED_APPLICANT, n.CALL_AMENDED)]),
    (f.assigned(), [("m.schmidt@experts.example.eu", n.EXPERT, n.EVALUATOR_ASSIGNED)]),
    (f.released(), [("m.schmidt@experts.example.eu", n.EXPERT, n.EVALUATOR_RELEASED)]),
    (f.preparation_started(),
     [("coord@comune.example.it", n.COORDINATOR, n.GRANT_INVITATION)]
     + [(a, n.APPLICANT_CONTACT, n.GRANT_INVITATION) for a in APPLICANTS]),
    (f.signature_requested("coordinator"),
     [("coord@comune.example.it", n.COORDINATOR, n.SIGNATURE_REQUEST_COORDINATOR)]),
    (f.signature_requested("authority"),
     [(f.AUTHORITY, n.AUTHORITY, n.SIGNATURE_REQUEST_AUTHORITY)]),
    (f.signed(), [(a, n.APPLICANT_CONTACT, n.GRANT_SIGNED) for a in APPLICANTS]),
    (f.declined(), [(a, n.APPLICANT_CONTACT, n.GRANT_DECLINED) for a in APPLICANTS]),
    (f.promoted(), [(a, n.APPLICANT_CONTACT, n.RESERVE_PROMOTED) for a in APPLICANTS]),
    (f.breached(), [("ops@grantflow.example.eu", n.OPERATIONS, n.TIME_TARGET_BREACH),
                    ("duty@grantflow.example.eu", n.OPERATIONS, n.TIME_TARGET_BREACH)]),
], ids=lambda v: v.event_type() if hasattr(v, "event_type") else "")
def test_each_event_reaches_the_right_recipients_with_the_right_template(call, event, expected):
    notes = route(event, call, f.OPS)
    assert targets(notes) == expected
    for note in notes:
        assert note.source_event_id == event.event_id
        assert note.source_event_type == event.event_type()
        assert note.key == (event.event_id, note.recipient, note.template)
        assert note.context["recipient"] == note.recipient and note.context["role"] == note.role
        json.dumps(note.context)  # plain data: survives being stored before rendering


@pytest.mark.parametrize("event", [
    f.call_published(1), f.ranking(), f.completed(), f.stage(),
    DeadlineClosed(**f.envelope(f.TOPIC), topic_id=f.TOPIC, deadline=f.DEADLINE,
                   closed_at=f.DEADLINE, manifest=[], manifest_hash="0" * 64),
    NotificationDelivered(**f.envelope(), notification_id="x", source_event_id="y",
                          source_event_type="proposal_submitted", recipient="a@b.example",
                          template="submission_receipt", message_id="m",
                          sent_at=datetime(2019, 2, 1, tzinfo=timezone.utc)),
], ids=lambda e: e.event_type())
def test_events_that_cause_no_message_now_route_to_nothing(call, event):
    """The ranking and evaluation in particular: their letters wait for the milestone."""
    assert route(event, call, f.OPS) == []


def test_keys_and_notification_ids_are_stable_across_redelivery(call):
    event = f.submitted()
    redelivered = load(dump(event))  # what a second delivery of the same message gives
    first, again = route(event, call), route(redelivered, call)
    assert [x.key for x in first] == [x.key for x in again]
    assert [x.notification_id for x in first] == [x.notification_id for x in again]
    assert len({x.notification_id for x in first}) == len(first)


def test_receipt_shows_the_instant_in_the_call_time_zone_and_in_utc(call):
    [note, _] = route(f.submitted(), call)
    assert note.context["received_at"]["local"] == \
        "31 January 2019, 16:59:58 CET (Europe/Brussels)"
    assert note.context["received_at"]["utc"] == "31 January 2019, 15:59:58 UTC"
    assert note.context["content_hash"].startswith("sha256:9f86d0")
    assert note.context["version"] == 3


def test_screening_context_lists_every_failed_rule_in_plain_words(call):
    [note, _] = route(f.screened(eligible=False, failed=f.FAILED_RULES), call)
    assert note.context["outcome"] == "ineligible"
    texts = [r["text"] for r in note.context["failed_rules"]]
    assert texts == ["The partnership has 2 entities; at least 3 are required.",
                     # no message from the producer: the call's rule description stands in
                     "No applicant or co-applicant may be established in Denmark.",
                     f.FAILED_RULES[2]["message"]]
    assert note.context["failed_rules"][1]["details"] == "countries: DK"


def test_inadmissible_wins_over_ineligible(call):
    [note, _] = route(f.screened(admissible=False, eligible=False, failed=f.MISSING_PART), call)
    assert note.context["outcome"] == "inadmissible"


def test_invitation_context_says_when_the_grant_was_capped(call):
    [coordinator, *_] = route(f.preparation_started(), call)
    assert coordinator.context["max_grant"] == "EUR 900,000.00"
    assert coordinator.context["grant_was_capped"] is True
    assert coordinator.context["cofinancing_cap"] == "90 %"
    assert coordinator.context["start_date"] == "1 November 2019"


def test_a_published_answer_goes_to_every_applicant_once_with_a_one_line_subject():
    from services.notifications.adapters.rendering import render
    long_question = "Is a regional authority's in-house company " * 5
    notes = route(f.answer_published(long_question), f.make_call(), f.OPS)
    assert sorted(n.recipient for n in notes) == ["anna.rossi@comune.example.it",
                                                  "office@comune.example.it"]
    assert {n.template for n in notes} == {"answer_published"}
    subject = render(notes[0].template, notes[0].context).subject
    assert subject.startswith("[AMIF-2018-AG-INTE] New answer on topic AMIF-2018-AG-INTE-1: "
                              "Is a regional") and subject.endswith("...")
