"""Loading call versions through the handler: validation, idempotency, amendments."""
from datetime import timedelta

import pytest

from services.submission import handlers
from services.submission.schemas import (CallLoadedSchema, CallSchema, CallSummarySchema,
                                         ManifestSchema, TimetableSchema)
from shared.calls.loader import call_from_wire, load_default_call
from shared.web import Conflict, NotFound, Unprocessable
from tests.support.submission_data import (DEADLINE, DURING_SUBMISSION, amended_yaml,
                                           call_yaml, participant, proposal_body)
from tests.unit.calls.helpers import edited

from .conftest import OPS, applicant, events
from .handler_steps import conforms, create, submit, tick


def load(uows, text, now=DURING_SUBMISSION):
    status, body = handlers.load_call(uows(), OPS, text, now)
    return status, conforms(CallLoadedSchema, body)


def test_a_call_is_published_once_with_its_whole_document(uows):
    status, body = load(uows, call_yaml())
    assert (status, body["status"], body["version"], body["changes"]) == \
        (201, "published", 1, [])
    [event] = events(uows, "call_published")
    assert event["version"] == 1 and event["changes"] == [] and event["notify_emails"] == []
    assert call_from_wire(event["call"]) == load_default_call()
    # the same file again, even re-formatted, changes nothing
    status, again = load(uows, "# reloaded\n" + call_yaml())
    assert (status, again["status"]) == (200, "unchanged")
    assert again["content_hash"] == body["content_hash"]
    assert len(events(uows, "call_published")) == 1


def test_an_invalid_call_lists_every_problem_with_path_line_and_rule(uows):
    text = edited("budget: 6_000_000\n    integration_areas: [local",
                  "budget: -1\n    integration_areas: [local")
    text = edited("params: {months: 36}", "params: {months: many}", text)
    with pytest.raises(Unprocessable) as refused:
        load(uows, text)
    fields = {e["field"]: e for e in refused.value.errors}
    assert set(fields) >= {"topics[0].budget", "eligibility[6].params.months"}
    assert all(e["line"] for e in fields.values())
    assert events(uows) == []


@pytest.mark.usefixtures("published")
def test_the_same_version_with_other_content_or_an_older_version_is_refused(uows):
    with pytest.raises(Conflict) as refused:
        load(uows, call_yaml().replace("title: Integration of third-country nationals",
                                       "title: Something else"))
    assert "raise `version`" in refused.value.message
    load(uows, amended_yaml(3))
    with pytest.raises(Conflict) as older:
        load(uows, amended_yaml(2))
    assert "older" in older.value.message
    assert [e["version"] for e in events(uows, "call_published")] == [1, 3]


@pytest.mark.usefixtures("published")
def test_an_amendment_records_the_change_and_tells_the_registered_applicants(uows, clock):
    kept = create(uows, clock)["id"]
    submit(uows, clock, kept)
    create(uows, clock, proposal_body(participant("Graz", "AT", experienced=True),
                                      [participant("Linz", "AT")]),
           who=applicant("graz@example.eu"))
    gone = create(uows, clock, proposal_body(participant("Porto", "PT")),
                  who=applicant("porto@example.eu"))["id"]
    handlers.withdraw(uows(), applicant("porto@example.eu"), gone, "", clock.now())

    status, body = load(uows, amended_yaml(2, deadline="2019-01-31 20:00"))
    assert status == 201
    assert body["changes"] == ["timetable.submission_deadline moved from 2019-01-31 17:00 "
                               "(Europe/Brussels) to 2019-01-31 20:00 (Europe/Brussels)"]
    event = events(uows, "call_published")[-1]
    assert event["changes"] == body["changes"]
    assert event["notify_emails"] == sorted(
        ["ghent@example.eu", "lyon@example.eu", "bologna@example.eu", "graz@example.eu",
         "linz@example.eu"])
    call = conforms(CallSchema, handlers.get_call(uows(), "AMIF-2018-AG-INTE"))
    assert call["version"] == 2 and call["deadline_utc"] == "2019-01-31T19:00:00.000000+00:00"
    assert [v["version"] for v in call["versions"]] == [1, 2]
    assert handlers.get_call(uows(), "AMIF-2018-AG-INTE", 1)["version"] == 1
    # the new deadline holds for the proposals already there
    clock.set(DEADLINE + timedelta(hours=2))
    assert submit(uows, clock, kept)["version"] == 2


@pytest.mark.usefixtures("published")
def test_the_deadline_cannot_move_once_a_topic_closed(uows, clock):
    tick(uows, DEADLINE)
    with pytest.raises(Conflict) as refused:
        load(uows, amended_yaml(2, deadline="2019-01-31 20:00"), now=DEADLINE)
    assert "cannot move it" in refused.value.message
    status, _ = load(uows, amended_yaml(2).replace("budget: 500_000", "budget: 400_000"),
                     now=DEADLINE)
    assert status == 201  # other amendments still go through


@pytest.mark.usefixtures("published")
def test_a_topic_with_proposals_cannot_be_removed(uows, clock):
    create(uows, clock, proposal_body(topic_id="AMIF-2018-AG-INTE-5"))
    text = amended_yaml(2)
    start = text.index("  - id: AMIF-2018-AG-INTE-5")
    end = text.index("\n# Local wall times")
    with pytest.raises(Conflict) as refused:
        load(uows, text[:start] + text[end:])
    assert "AMIF-2018-AG-INTE-5" in refused.value.message


@pytest.mark.usefixtures("published")
def test_calls_manifests_and_timetables_are_readable(uows, clock):
    [summary] = handlers.list_calls(uows())
    conforms(CallSummarySchema, summary)
    assert summary["deadline_local"] == "2019-01-31T17:00:00+01:00"
    with pytest.raises(NotFound):
        handlers.get_call(uows(), "NOPE")
    with pytest.raises(NotFound):
        handlers.manifest(uows(), "AMIF-2018-AG-INTE", "AMIF-2018-AG-INTE-1")  # not closed
    table = conforms(TimetableSchema, handlers.call_timetable(uows(), "AMIF-2018-AG-INTE",
                                                         DURING_SUBMISSION))
    assert table["current_stage"] == "publication"
    assert [(m["key"], m["due"], m["fired"]) for m in table["milestones"][:2]] == \
        [("publication", True, False), ("submission_deadline", False, False)]
    tick(uows, DEADLINE)
    conforms(ManifestSchema, handlers.manifest(uows(), "AMIF-2018-AG-INTE",
                                               "AMIF-2018-AG-INTE-2"))
    table = handlers.call_timetable(uows(), "AMIF-2018-AG-INTE", DEADLINE)
    assert table["current_stage"] == "submission_deadline"
    deadline = table["milestones"][1]
    assert deadline["fired"] and deadline["at_local"] == "2019-01-31T17:00:00+01:00"
    assert deadline["fired_with_version"] == 1
