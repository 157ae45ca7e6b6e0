"""Result letters at the information-to-applicants milestone, an evaluator's reminder and
the operations digest, driven by events on the broker and the shared simulated clock."""
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.infra import eventually
from tests.unit.notifications import factories as f

from .helpers import about, call_published, consumed, deliveries, mails, publish, query

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

T0 = datetime(2019, 2, 10, 9, 0, tzinfo=f.BRUSSELS)
DUE = datetime(2019, 3, 3, 17, 0, tzinfo=f.BRUSSELS)
OPS = "duty@grantflow.test"
EXPERT = "m.schmidt@experts.example.eu"
ANNA = "anna.rossi@comune.example.it"


def at(event, when=T0):
    return replace(event, occurred_at=when)


def test_letters_go_at_the_milestone_reminders_before_the_due_date_and_a_daily_digest(stack):
    stack.overrides["notifications"] = {"NOTIFY_OPERATIONS": [OPS]}
    stack.clock.set(T0)
    stack.start("notifications")
    publish(stack, call_published(datetime(2018, 7, 26, tzinfo=timezone.utc)),
            about(f.screened(eligible=False, failed=f.FAILED_RULES), "P-0001", T0),
            at(f.screened()), at(f.completed()), at(f.assigned()),
            about(f.withdrawn(), "P-0099", T0))
    eventually(lambda: len(deliveries(stack, template="withdrawal_confirmation")) == 2)
    # withdrawn at the deadline: its screening tells nobody it passed to evaluation
    publish(stack, about(f.screened(), "P-0099", T0))
    eventually(lambda: consumed(stack, "proposal_screened", "processed") == 3)
    eventually(lambda: sorted((r.template, r.status) for r in deliveries(stack)) == sorted(
        [("evaluator_assigned", "sent")] + [("screening_result", "sent")] * 4
        + [("withdrawal_confirmation", "sent")] * 2), message="what the events said, sent")
    assert mails(stack, EXPERT, "Evaluation of CITYNET due 3 March 2019, 17:00:00 CET")

    stack.clock.set(DUE - timedelta(days=7, minutes=-1))
    [reminder] = eventually(lambda: mails(stack, EXPERT, "Reminder"))
    assert "6 days and 23 hours" in reminder["subject"]
    digest = eventually(lambda: mails(stack, OPS, "Daily digest for 10 February 2019"),
                        message="the digest of the day the events happened")[0]
    assert "proposal_screened" in digest["text"] and "evaluator_assigned" in digest["text"]

    publish(stack, at(f.ranking("main"), datetime(2019, 6, 20, 10, tzinfo=f.BRUSSELS)))
    assert mails(stack, ANNA, "Result") == []  # a ranking tells nobody yet
    stack.clock.set(f.RELEASE_AT)
    publish(stack, at(f.stage(), f.RELEASE_AT))
    letters = eventually(lambda: (lambda m: len(m) == 4 and m)(mails(stack, subject="Result")),
                         message="a letter to each contact of the two decided proposals")
    by_proposal = {}
    for letter in letters:
        by_proposal.setdefault(letter["subject"].split("(")[1].split(")")[0], []).append(letter)
    assert sorted(by_proposal) == ["P-0001", "P-0042"]  # none for the withdrawn P-0099
    ineligible, selected = by_proposal["P-0001"][0]["text"], by_proposal["P-0042"][0]["text"]
    assert "NOT ELIGIBLE" in ineligible and "at least 3 are required" in ineligible
    assert "SELECTED FOR FUNDING" in selected and "EVALUATION SUMMARY REPORT" in selected
    assert "no later than 31 July 2019" in selected

    delivered = eventually(lambda: _delivered_letters(stack), message="outcome events")
    assert {e["sent_at"] for e in delivered} == {f.RELEASE_AT.astimezone(timezone.utc)
                                                 .isoformat()}
    eventually(lambda: mails(stack, OPS, "Daily digest for 30 June 2019"),
               message="a quiet day during the timetable is digested too")
    assert len(deliveries(stack, template="evaluation_reminder")) == 1


def _delivered_letters(stack):
    payloads = [json.loads(r.payload) for r in query(
        stack, "SELECT payload FROM outbox WHERE event_type = 'notification_delivered'")]
    letters = [p for p in payloads if p["template"] == "result_letter"]
    return len(letters) == 4 and letters
