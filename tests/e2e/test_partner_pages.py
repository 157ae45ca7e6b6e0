"""Partner search and questions and answers through the applicants' pages, in headless
Chromium, on the real submission and notifications services, broker, PostgreSQL and SMTP
server:

- an applicant signs in from the mail, opens the topic's partner search from their
  home page, publishes their organisation's profile (a country outside the call is
  refused at its field first), and asks a question;
- a second applicant (with a draft proposal on the call) finds the profile with the
  filters, and not with others;
- operations answer and publish (JSON API: not the people this test follows); both
  applicants get the answer by mail, once each, and the mail's sign-in link opens the
  topic's questions and answers, where the answer is shown and the asker is not.

Every page is checked with axe-core (WCAG 2.1 A/AA) and has no console error (a CSP
violation would be one); a screenshot of each is kept in var/test-artifacts/partner-pages
(or under GRANTFLOW_SCREENSHOTS)."""
import pytest

from tests.support.infra import eventually
from tests.support.pages_browser import people
from tests.support.pages_client import sign_in_links, wait_for_link
from tests.support.submission_data import call_yaml, participant, proposal_body

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CALL, TOPIC = "AMIF-2018-AG-INTE", "AMIF-2018-AG-INTE-1"
GHENT, LISBOA = "europe@gent.example.eu", "europa@lisboa.example.pt"
QUESTION = "Can a city coordinate one proposal and be a partner in another?"
ANSWER = "Yes: an organisation may take part in several proposals, in any role."


def sign_in(person, base: str, email: str, smtp) -> None:
    person.page.goto(f"{base}/apply/")
    person.page.get_by_label("E-mail address").fill(email)
    person.page.get_by_role("button", name="E-mail me a sign-in link").click()
    person.page.get_by_role("heading", name="Check your mail").wait_for()
    person.page.goto(wait_for_link(smtp, email))
    person.page.get_by_role("button", name="Sign in").click()
    person.page.get_by_role("heading", name="My proposals").wait_for()


def test_partner_search_and_questions_through_the_pages(stack, tmp_path):
    stack.start("submission", "notifications")
    base = stack.url("submission")
    ops = stack.api("submission")
    assert ops.post("/calls", json={"yaml": call_yaml()}).status_code == 201
    # Lisboa is an applicant of the call: a draft of its own (made through the API)
    assert stack.api("submission", "applicant", LISBOA).post("/proposals", json=proposal_body(
        participant("Lisboa", "PT", experienced=True, email=LISBOA),
        [participant("Graz", "AT"), participant("Tartu", "EE")], acronym="LISNET",
        part_names=())).status_code == 201

    with people(tmp_path / "profile", "partner-pages") as open_person:
        # ================================================== Ghent publishes a profile
        g = open_person("partners-ghent", "Europe/Brussels")
        sign_in(g, base, GHENT, stack.smtp)
        g.page.get_by_role("link", name=f"Partner search of {TOPIC}").click()
        g.page.get_by_role("heading", name="Partner search").wait_for()
        g.check("search-empty")
        g.page.get_by_role("link", name="Publish your organisation's profile").click()
        form = g.page.locator("form").filter(has=g.page.get_by_role(
            "button", name="Publish the profile"))
        form.get_by_label("Organisation name").fill("Stad Gent")
        form.get_by_label("Country").fill("DK")
        form.get_by_label("Entity type").select_option("public_body")
        form.get_by_label("Experience").fill("Ten years of one-stop shops for newcomers.")
        form.get_by_label("What you are looking for").fill(
            "Cities with labour market programmes for refugees.")
        form.get_by_label("Housing").check()
        form.get_by_label("Integration in the labour market").check()
        g.check("profile-form")
        form.get_by_role("button", name="Publish the profile").click()
        summary = g.page.locator("#error-summary")
        summary.wait_for()
        assert "must be a country taking part in the call" in summary.inner_text()
        assert g.page.locator("#f-country").get_attribute("aria-invalid") == "true"
        # the refused form comes back with 422, which Chromium logs; nothing else may
        assert g.console_errors == ["Failed to load resource: the server responded with a "
                                    "status of 422 (UNPROCESSABLE ENTITY)"]
        g.console_errors.clear()
        g.check("profile-refused")
        g.page.get_by_label("Country").fill("BE")
        g.page.get_by_role("button", name="Publish the profile").click()
        g.page.get_by_text("Your profile is published").wait_for()
        assert "Stad Gent" in g.page.locator("#results").inner_text()
        g.check("profile-published")

        # ================================================== and asks a question
        g.page.get_by_role("link", name="Questions and answers").first.click()
        g.page.get_by_role("heading", name="Questions and answers").wait_for()
        g.page.get_by_label("Your question").fill(QUESTION)
        g.page.get_by_role("button", name="Send the question").click()
        g.page.get_by_text("Your question is sent").wait_for()
        assert QUESTION in g.page.locator("#waiting").inner_text()
        g.check("question-asked")

        # ================================================== Lisboa searches
        l = open_person("partners-lisboa", "Europe/Lisbon")
        sign_in(l, base, LISBOA, stack.smtp)
        l.page.goto(f"{base}/apply/calls/{CALL}/topics/{TOPIC}/partners")
        l.page.get_by_label("Country").select_option("BE")
        l.page.get_by_label("Integration area").select_option(label="Housing")
        l.page.get_by_label("Words").fill("refugees")
        l.page.get_by_role("button", name="Search").click()
        l.page.get_by_role("heading", name="1 profile found").wait_for()
        found = l.page.locator("#results article").inner_text()
        assert "Stad Gent" in found and GHENT in found and "Housing" in found
        l.check("search-found")
        l.page.get_by_label("Country").select_option("FR")
        l.page.get_by_role("button", name="Search").click()
        l.page.get_by_role("heading", name="0 profiles found").wait_for()
        l.page.goto(f"{base}/apply/calls/{CALL}/topics/{TOPIC}/questions")
        assert QUESTION not in l.page.locator("main").inner_text()  # not published yet

        # ================================================== operations publish the answer
        asked = ops.get(f"/calls/{CALL}/topics/{TOPIC}/questions").json()["questions"]
        [question] = [q for q in asked if q["question"] == QUESTION]
        assert ops.put(f"/questions/{question['id']}/answer",
                       json={"answer": ANSWER}).status_code == 200
        assert ops.post(f"/questions/{question['id']}/publish").status_code == 200

        # ================================================== the mail leads to the answer
        def answer_mails():
            return [m for m in stack.smtp.messages() if ANSWER in m["text"]]

        mails = eventually(lambda: (lambda found: found if len(found) >= 4 else None)(
            answer_mails()), timeout=60, message="the answer mailed to both applicants")
        # the draft's partners are applicants of the call too: each address gets it once
        assert sorted(r for m in mails for r in m["rcpt_tos"]) == sorted(
            [GHENT, LISBOA, "graz@example.eu", "tartu@example.eu"])
        link = sign_in_links(stack.smtp, LISBOA)[-1]
        assert any(link in m["text"] for m in mails)
        l.page.goto(link)
        l.page.get_by_role("button", name="Sign in").click()
        l.page.get_by_role("heading", name="Questions and answers").wait_for()
        assert l.page.url.endswith(f"/apply/calls/{CALL}/topics/{TOPIC}/questions")
        published = l.page.locator("#published").inner_text()
        assert QUESTION in published and ANSWER in published and GHENT not in published
        l.check("answer-published")
