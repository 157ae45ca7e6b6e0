"""The HTTP API's handlers and request schemas: who sees what, and resend."""
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from services.notifications.adapters.mailer import PermanentMailError
from services.notifications.domain.delivery import QUEUED, SENT
from services.notifications.handlers import (get_notification, letters_of_call,
                                             list_notifications, resend)
from services.notifications.schemas import ListQuery, ResendBody
from shared.auth import Principal
from shared.web import Conflict, Forbidden, NotFound, Unprocessable

from . import factories as f
from .service_support import FakeMailer, call_published, deliver, handle, rows

NOW = datetime(2019, 2, 1, 9, 0, tzinfo=timezone.utc)
ANNA, OFFICE = "anna.rossi@comune.example.it", "office@comune.example.it"
OPS = Principal("ops@grantflow.example", "operations")
APPLICANT = Principal(ANNA, "applicant")
EXPERT = Principal("m.schmidt@experts.example.eu", "evaluator")


@pytest.fixture
def log(uows):
    handle(uows, call_published())
    handle(uows, f.submitted())
    handle(uows, f.assigned())
    return uows


def listing(uows, principal, **query):
    return list_notifications(uows(), principal, ListQuery().load(query))


def test_operations_list_everything_and_filter(log):
    everything = listing(log, OPS)
    assert everything["total"] == 3 and len(everything["items"]) == 3
    of_proposal = listing(log, OPS, proposal_id="P-0042", template="submission_receipt")
    assert sorted(i["recipient"] for i in of_proposal["items"]) == [ANNA, OFFICE]
    assert listing(log, OPS, recipient="Office@Comune.example.it")["total"] == 1
    page = listing(log, OPS, limit="1", offset="1")
    assert page["total"] == 3 and len(page["items"]) == 1 and page["offset"] == 1


def test_pages_after_a_delivery_list_the_log_once_each_in_order(log):
    for version in (4, 5, 6):  # more receipts, queued at the same instant as others
        handle(log, f.submitted(version=version))
    for hours in (3, 1):  # and at later instants, queued in the other order
        handle(log, f.submitted(version=10 + hours), now=NOW + timedelta(hours=hours))
    everything = listing(log, OPS, limit="500")["items"]
    assert len(everything) == 13 and listing(log, OPS)["has_more"] is False
    assert [i["created_at"] for i in everything] == sorted(i["created_at"] for i in everything)
    pages, after = [], None
    while True:
        page = listing(log, OPS, limit="2", **({"after": after} if after else {}))
        pages.append(page)
        if not page["has_more"]:
            break
        after = page["items"][-1]["id"]
    assert [len(p["items"]) for p in pages] == [2, 2, 2, 2, 2, 2, 1]
    assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in everything]
    # counted on the first page only: counting a large log on every page cost as much
    assert pages[0]["total"] == 13 and all(p["total"] is None for p in pages[1:])
    # a filter applies after the position as before it
    anna = listing(log, OPS, recipient=ANNA, after=everything[0]["id"])["items"]
    assert [i["id"] for i in anna] == [i["id"] for i in everything[1:]
                                       if i["recipient"] == ANNA]


def test_a_page_after_someone_elses_or_an_unknown_delivery_is_refused(log):
    office = rows(log, recipient=OFFICE)[0]
    anna = rows(log, recipient=ANNA)[0]
    assert listing(log, APPLICANT, after=anna.id)["items"] == []
    for after in (office.id, "5b0a2a4c-6f3e-4c8e-9a51-0d6c1f1f2b7e"):
        with pytest.raises(Unprocessable) as refused:  # the same for both: no oracle
            listing(log, APPLICANT, after=after)
        assert refused.value.errors == [{"field": "after",
                                         "rule": "not a delivery you can list"}]
    assert listing(log, OPS, after=office.id)["total"] is None


def test_applicants_and_evaluators_list_only_their_own(log):
    assert [i["recipient"] for i in listing(log, APPLICANT)["items"]] == [ANNA]
    assert [i["template"] for i in listing(log, EXPERT)["items"]] == ["evaluator_assigned"]
    assert listing(log, APPLICANT, recipient=ANNA)["total"] == 1
    with pytest.raises(Forbidden) as refused:
        listing(log, APPLICANT, recipient=OFFICE)
    assert refused.value.errors[0]["field"] == "recipient"


def test_one_notification_shows_its_text_to_its_recipient_only(log):
    anna = rows(log, recipient=ANNA)[0]
    shown = get_notification(log(), APPLICANT, anna.id)
    assert f.CONTENT_HASH in shown["body"] and shown["subject"] == anna.subject
    assert get_notification(log(), OPS, anna.id)["id"] == anna.id
    office = rows(log, recipient=OFFICE)[0]
    with pytest.raises(NotFound):  # someone else's: not found, not forbidden
        get_notification(log(), APPLICANT, office.id)
    with pytest.raises(NotFound):
        get_notification(log(), OPS, "no-such-id")


def test_resend_is_a_new_recorded_delivery_of_the_same_message(log):
    anna = rows(log, recipient=ANNA)[0]
    with pytest.raises(Conflict):  # still queued: a resend now would be a silent duplicate
        resend(log(), OPS, anna.id, None, NOW)
    mailer = FakeMailer(failures={OFFICE: PermanentMailError("550 no such user")})
    deliver(log, mailer, NOW)

    again = resend(log(), OPS, anna.id, "applicant lost it", NOW)
    assert again["resend_of"] == anna.id and again["status"] == QUEUED
    assert again["id"] != anna.id and again["message_id"] != anna.message_id
    assert again["subject"] == anna.subject and again["body"] == anna.body
    assert again["requested_by"] == OPS.email and again["note"] == "applicant lost it"
    assert get_notification(log(), OPS, anna.id)["resends"] == [again["id"]]
    deliver(log, mailer, NOW)
    assert [m.recipient for m in mailer.sent].count(ANNA) == 2
    assert rows(log, id=again["id"])[0].status == SENT

    office = rows(log, recipient=OFFICE)[0]  # failed: may be resent too (it fails again)
    assert resend(log(), OPS, office.id, None, NOW)["resend_of"] == office.id
    with pytest.raises(NotFound):
        resend(log(), OPS, "no-such-id", None, NOW)


def test_letters_view_says_what_each_proposal_waits_for(log):
    handle(log, f.screened())
    view = letters_of_call(log(), f.CALL_ID)
    assert view["released"] is False
    assert view["proposals"] == [{"proposal_id": "P-0042", "acronym": "CITYNET",
                                  "outcome": None, "withdrawn": False,
                                  "pending": "evaluation not completed", "deliveries": []}]
    handle(log, f.completed(passed=False, failed_thresholds=["relevance"]))
    assert letters_of_call(log(), f.CALL_ID)["proposals"][0]["pending"] == \
        "the information-to-applicants milestone"
    handle(log, f.stage(), now=f.RELEASE_AT)
    [proposal] = letters_of_call(log(), f.CALL_ID)["proposals"]
    assert proposal["outcome"] == "rejected" and proposal["pending"] is None
    assert sorted(d["recipient"] for d in proposal["deliveries"]) == [ANNA, OFFICE]
    with pytest.raises(NotFound):
        letters_of_call(log(), "NO-SUCH-CALL")


@pytest.mark.parametrize("query,field", [
    ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"status": "lost"}, "status"), ({"template": "nope"}, "template"),
    ({"recipient": "not-an-address"}, "recipient"), ({"color": "red"}, "color"),
    ({"after": "P-0042"}, "after"),
    ({"after": "5b0a2a4c-6f3e-4c8e-9a51-0d6c1f1f2b7e", "offset": "10"}, "after")])
def test_bad_query_parameters_name_the_field(query, field):
    with pytest.raises(ValidationError) as invalid:
        ListQuery().load(query)
    assert field in invalid.value.messages


def test_resend_body_is_optional_and_strict():
    assert ResendBody().load({}) == {"reason": None}
    with pytest.raises(ValidationError):
        ResendBody().load({"reason": "x" * 501})
    with pytest.raises(ValidationError):
        ResendBody().load({"to": "someone@else.example"})
