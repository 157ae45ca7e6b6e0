"""Partner search and published Q&A through the real services: the submission API on
PostgreSQL and RabbitMQ, the notifications service, and mail over real SMTP.

One stack for the whole story (it is the slow part): profiles published, refused and
searched over HTTP; a question asked, answered and published; every applicant of the
call gets exactly one mail, also when one person is a contact of two proposals, writes in
another case, owns a profile and asked the question, and when the event is delivered to
notifications a second time."""
import pytest

from shared.calls.loader import DEFAULT_CALL_FILE
from shared.events import load
from tests.integration.notifications.helpers import publish as publish_on_broker
from tests.support.infra import eventually, stays
from tests.support.submission_data import CALL_ID, TOPIC_1, participant, proposal_body
from tests.support.submission_events import EventTap

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SUBJECT = f"[{CALL_ID}] New answer on topic {TOPIC_1}"


def profile(name, country="BE", entity_type="public_body", areas=("housing",)) -> dict:
    return {"organisation_name": name, "country": country, "entity_type": entity_type,
            "experience": f"{name}: ten years of integration projects.",
            "areas": list(areas), "looking_for": "Partners for a network of cities."}


def test_partner_search_and_a_published_answer_mailed_once_to_every_applicant(stack):
    tap = EventTap(stack.vhost.amqp_uri).declare()
    stack.start("submission", "notifications")
    ops = stack.api("submission")
    loaded = ops.post("/calls", json={"yaml": DEFAULT_CALL_FILE.read_text(encoding="utf-8")})
    assert loaded.status_code == 201, loaded.text

    # ------------------------------------------------------------ applicants of the call
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    for acronym in ("NETINT", "NETINT2"):  # ghent@ is a contact of both proposals
        assert ghent.post("/proposals", json=proposal_body(acronym=acronym)).status_code == 201
    # the same person spelled in capitals on a third proposal
    prato = stack.api("submission", "applicant", "office@prato.example.it")
    assert prato.post("/proposals", json=proposal_body(
        participant("Prato", "IT", email="office@prato.example.it"),
        [participant("Ghent", "BE", email="GHENT@example.eu"), participant("Lyon", "FR")],
        acronym="PRATO")).status_code == 201

    # ------------------------------------------------------------ partner search
    path = f"/calls/{CALL_ID}/topics/{TOPIC_1}/partner-profiles"
    iom = stack.api("submission", "applicant", "iom@example.int")
    created = iom.post(path, json=profile("IOM", "CH", "international_organisation",
                                          ("labour_market",)))
    assert created.status_code == 201, created.text
    assert ghent.post(path, json=profile("Stad Gent")).status_code == 201
    again = ghent.post(path, json=profile("Stad Gent"))
    assert (again.status_code, again.json()["error"]) == (409, "profile_exists")
    refused = prato.post(path, json={**profile("Prato", "DK", "company"), "fax": "x",
                                     "experience": "x" * 4001})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"fax", "experience"}
    outside = prato.post(path, json=profile("Prato", "DK", "company", ("astrology",)))
    assert outside.status_code == 422
    assert [e["field"] for e in outside.json()["errors"]] == ["entity_type", "country",
                                                              "areas[0]"]
    assert stack.api("submission", "evaluator", "e@x.eu").get(path).status_code == 403
    bad_query = ghent.get(path, params={"country": "be", "limit": "1000"})
    assert (bad_query.status_code, bad_query.json()["error"]) == (400, "bad_query")
    assert {e["field"] for e in bad_query.json()["errors"]} == {"country", "limit"}

    found = prato.get(path, params={"area": "labour_market", "q": "integration"}).json()
    assert [p["organisation_name"] for p in found["profiles"]] == ["IOM"]
    assert found["profiles"][0]["contact_email"] == "iom@example.int"
    page = prato.get(path, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and len(page["profiles"]) == 1
    edited = ghent.put(f"/partner-profiles/{created.json()['id']}", json=profile("Not mine"))
    assert (edited.status_code, edited.json()["error"]) == (403, "not_owner")

    # ------------------------------------------------------------ a question, answered
    asked = ghent.post(f"/calls/{CALL_ID}/topics/{TOPIC_1}/questions",
                       json={"question": "Can one city coordinate two proposals?"})
    assert asked.status_code == 201, asked.text
    question_id = asked.json()["id"]
    assert prato.get(f"/questions/{question_id}").status_code == 404  # not published yet
    assert ghent.post(f"/questions/{question_id}/publish").status_code == 403
    assert ops.put(f"/questions/{question_id}/answer", json={
        "answer": "Yes, as long as each proposal is a different project."}).status_code == 200
    published = ops.post(f"/questions/{question_id}/publish")
    assert published.status_code == 200, published.text
    assert ops.post(f"/questions/{question_id}/publish").status_code == 409

    shown = prato.get(f"/calls/{CALL_ID}/topics/{TOPIC_1}/questions").json()
    assert [(q["id"], q["answer"]) for q in shown["questions"]] == [
        (question_id, "Yes, as long as each proposal is a different project.")]
    assert "asked_by" not in shown["questions"][0]

    # ------------------------------------------------------------ one mail per person
    everyone = sorted({"ghent@example.eu", "lyon@example.eu", "bologna@example.eu",
                       "office@prato.example.it", "iom@example.int"})
    [event] = tap.wait_for(lambda t: t.events("answer_published"), message="answer_published")
    assert event["notify_emails"] == everyone

    def answer_mails():
        return sorted(r for m in stack.smtp.messages() if (m["subject"] or "").startswith(SUBJECT)
                      for r in m["rcpt_tos"])

    eventually(lambda: answer_mails() == everyone, timeout=60, message="one mail each")
    [mail] = [m for m in stack.smtp.messages() if "iom@example.int" in m["rcpt_tos"]
              and (m["subject"] or "").startswith(SUBJECT)]
    assert "Can one city coordinate two proposals?" in mail["text"]
    assert "Yes, as long as each proposal is a different project." in mail["text"]

    publish_on_broker(stack, load(event))  # the broker delivers it again
    stays(lambda: answer_mails() == everyone, duration=3, message="no second mail")
