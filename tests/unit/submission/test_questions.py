"""Questions and answers through the handlers on a real SQLite unit of work: who sees
what, publishing once with every applicant of the call to tell, revisions telling
nobody, and the bounds on asking."""
import pytest

from services.submission.domain.questions import MAX_OPEN_QUESTIONS
from services.submission.handlers import partners, proposals, questions
from services.submission.schemas import (PartnerProfileBodySchema, QuestionListSchema,
                                         QuestionSchema)
from shared.web import Conflict, NotFound, Unprocessable
from tests.support.submission_data import (CALL_ID, DEADLINE, TOPIC_1, participant,
                                           proposal_body)

from .conftest import OPS, applicant, events
from .handler_steps import conforms, create

ASKER = applicant("Asker@Example.eu")


def ask(uows, clock, who=ASKER, text="May a city be coordinator twice?"):
    return conforms(QuestionSchema, questions.ask(uows(), who, CALL_ID, TOPIC_1, text,
                                                  clock.now()))


def listing(uows, who, state=None):
    return conforms(QuestionListSchema, questions.listing(uows(), who, CALL_ID, TOPIC_1,
                                                          state=state, limit=20, offset=0))


def answer(uows, clock, question_id, text="No.", **kw):
    return questions.answer(uows(), OPS, question_id, {"answer": text, **kw}, clock.now())


@pytest.mark.usefixtures("published")
def test_asked_answered_published_and_told_to_every_applicant_once(uows, clock):
    # applicants of the call: contacts of a proposal, a partner profile owner, the asker
    create(uows, clock)  # contacts ghent@, lyon@, bologna@example.eu
    withdrawn = create(uows, clock, proposal_body(
        participant("Gone", "BE", email="gone@example.eu"), acronym="GONE"),
        who=applicant("gone@example.eu"))
    proposals.withdraw(uows(), applicant("gone@example.eu"), withdrawn["id"], "", clock.now())
    partners.publish(uows(), applicant("IOM@example.int"), CALL_ID, TOPIC_1,
                     PartnerProfileBodySchema().load({
                         "organisation_name": "IOM", "country": "CH",
                         "entity_type": "international_organisation", "experience": "x",
                         "looking_for": "y"}), clock.now())
    asked = ask(uows, clock)
    ask(uows, clock, applicant("ghent@example.eu"), "A second one")  # a contact asks too
    assert asked["state"] == "asked" and asked["answer"] is None and asked["mine"]
    assert "asked_by" not in asked

    stranger = applicant("stranger@example.eu")
    assert listing(uows, stranger)["total"] == 0
    with pytest.raises(NotFound):
        questions.get(uows(), stranger, asked["id"])
    assert listing(uows, ASKER)["questions"][0]["id"] == asked["id"]
    assert listing(uows, OPS, state="asked")["total"] == 2

    with pytest.raises(Unprocessable) as unanswered:
        questions.publish(uows(), OPS, asked["id"], clock.now())
    assert unanswered.value.errors == [{"field": "answer",
                                        "rule": "write the answer before publishing"}]
    drafted = answer(uows, clock, asked["id"], "Not as coordinator of two proposals.",
                     question="May one organisation coordinate two proposals?")
    assert drafted["asked_by"] == "asker@example.eu" and drafted["state"] == "asked"
    assert questions.get(uows(), ASKER, asked["id"])["answer"] is None  # not published yet
    assert events(uows, "answer_published") == []

    done = questions.publish(uows(), OPS, asked["id"], clock.now())
    assert done["state"] == "published" and done["published_at"]
    [event] = events(uows, "answer_published")
    assert event["question"] == "May one organisation coordinate two proposals?"
    assert event["answer"] == "Not as coordinator of two proposals."
    assert event["correlation_id"] == asked["id"] and event["topic_id"] == TOPIC_1
    assert event["notify_emails"] == sorted([
        "asker@example.eu", "bologna@example.eu", "ghent@example.eu", "iom@example.int",
        "lyon@example.eu"])  # each once, lower case; the withdrawn proposal's contact not

    seen = questions.get(uows(), stranger, asked["id"])
    assert seen["answer"] == "Not as coordinator of two proposals." and not seen["mine"]
    assert "asked_by" not in seen
    assert [q["state"] for q in listing(uows, stranger)["questions"]] == ["published"]

    with pytest.raises(Conflict) as twice:
        questions.publish(uows(), OPS, asked["id"], clock.now())
    assert twice.value.code == "invalid_state"
    revised = answer(uows, clock, asked["id"], "Not as coordinator of two proposals; as "
                                               "partner, yes.")
    assert revised["revised_at"] and revised["state"] == "published"
    assert len(events(uows, "answer_published")) == 1  # a revision tells nobody again


@pytest.mark.usefixtures("published")
def test_asking_is_bounded_and_ends_at_the_deadline(uows, clock):
    for n in range(MAX_OPEN_QUESTIONS):
        ask(uows, clock, text=f"Question {n}")
    with pytest.raises(Conflict) as flood:
        ask(uows, clock, text="One more")
    assert flood.value.code == "limit_reached"
    assert ask(uows, clock, who=OPS, text="An entry of operations' own")["state"] == "asked"
    clock.set(DEADLINE)
    with pytest.raises(Conflict) as late:
        ask(uows, clock, who=applicant("late@example.eu"))
    assert late.value.code == "deadline_passed"
    with pytest.raises(Unprocessable):
        ask(uows, clock, who=OPS, text="   ")


def test_questions_need_a_published_call(uows, clock):
    with pytest.raises(NotFound) as unknown:
        ask(uows, clock)
    assert unknown.value.code == "call_not_found"
