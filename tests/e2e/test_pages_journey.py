"""The whole journey of issue 11 through the pages only, in headless Chromium, on the real
services, broker, PostgreSQL, SMTP server and a simulated clock:

- an applicant signs in from the mail, creates a proposal with partners, uploads its
  parts, sees a failed rule, fixes it and submits before the deadline;
- an evaluator signs in from the assignment mail, declares a conflict on one proposal,
  then scores another and finalises (and sees nothing of the first any more);
- after the ranking the applicant sees the outcome and the evaluation summary report,
  then confirms and signs the grant.

Every page is checked with axe-core (WCAG 2.1 A/AA) and has no console error (a CSP
violation would be one); a screenshot of each is kept in var/test-artifacts/pages-journey
(or under GRANTFLOW_SCREENSHOTS). Operations' steps (the call, the expert pool, one override
that gives the evaluator both proposals, the other proposal's applicant and evaluator)
go through the JSON APIs: they are not the people this journey follows.
"""
import re

import pytest

from grantflow.timetable import TimetableDriver
from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.config import SERVICES
from tests.support.infra import eventually
from tests.support.pages_browser import people
from tests.support.pages_client import sign_in_links, wait_for_link
from tests.support.submission_data import call_yaml, participant, proposal_body

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CALL, TOPIC = "AMIF-2018-AG-INTE", "AMIF-2018-AG-INTE-1"
APPLICANT = "coordinator@gent.example.eu"
EVALUATOR = "eva@experts.example"
CRITERIA = {"relevance": "27", "quality": "17.5", "cost_effectiveness": "13",
            "european_added_value": "13", "results_impact": "17"}
PARTS = {"part_a": b"%PDF-1.4 administrative form", "part_b": b"%PDF-1.4 technical part",
         "budget": b"%PDF-1.4 detailed budget"}


def tiny_call() -> str:
    """The bundled call with one evaluator per proposal (a tiny evaluation)."""
    text = call_yaml()
    assert text.count("evaluators_per_proposal: 2") == 1
    return text.replace("evaluators_per_proposal: 2", "evaluators_per_proposal: 1")


def experts() -> dict:
    def expert(n, name, email, org, load):
        return {"id": f"E{n}", "name": name, "email": email, "country": "PT",
                "organisation_id": org, "expertise_areas": ["housing", "labour_market"],
                "keywords": ["integration"], "max_load": load, "languages": ["en"]}
    # E2 and E3 work for the applicant's organisation: never assigned to its proposal
    return {"experts": [expert(1, "Eva Marques", EVALUATOR, "PT-EXPERT-1", 2),
                        expert(2, "Bruno Lemaire", "bruno@experts.example", "BE-GENT", 1),
                        expert(3, "Carla Ferro", "carla@experts.example", "BE-GENT", 1)]}


def other_proposal(stack) -> str:
    lisboa = stack.api("submission", "applicant", "europa@lisboa.example.pt")
    created = lisboa.post("/proposals", json=proposal_body(
        participant("Lisboa", "PT", experienced=True, email="europa@lisboa.example.pt",
                    org="PT-LISBOA"),
        [participant("Graz", "AT"), participant("Tartu", "EE")], acronym="LISNET",
        title="Lisbon network for integration"))
    assert created.status_code == 201, created.text
    assert lisboa.post(f"/proposals/{created.json()['id']}/submit").status_code == 200
    return created.json()["id"]


def driver(stack) -> TimetableDriver:
    return TimetableDriver(stack.clock, stack.url("submission"),
                           issue_token(DEFAULT_DEV_SECRET, "ops@grantflow.test", "operations"),
                           stack.vhost.amqp_uri, {n: stack.url(n) for n in SERVICES},
                           retry_delays_ms=stack.RETRY_DELAYS_MS)


def press_tab_to(person, selector: str, limit: int = 15) -> None:
    """Keyboard only: Tab until ``selector`` has the focus."""
    for _ in range(limit):
        person.page.keyboard.press("Tab")
        if person.page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


def fill_participant(form, legend: str, name: str, org: str, country: str, email: str,
                     experienced: bool = False) -> None:
    group = form.get_by_role("group", name=legend)
    group.get_by_label("Legal name").fill(name)
    group.get_by_label("Organisation id").fill(org)
    group.get_by_label("Country").fill(country)
    group.get_by_label("Entity type").fill("public_body")
    group.get_by_label("Contact e-mail").fill(email)
    group.get_by_label("A local or regional authority").check()
    if experienced:
        group.get_by_label("Experienced in integration").check()


def test_applicant_and_evaluator_journey_through_the_pages(stack, tmp_path):
    stack.start(*SERVICES)
    sub, ev, grants = (stack.url(n) for n in ("submission", "evaluation", "grants"))
    assert stack.api("submission").post("/calls", data=tiny_call().encode()).status_code == 201
    imported = stack.api("evaluation").post("/experts/import", json=experts())
    assert imported.status_code == 200, imported.text
    lisnet = other_proposal(stack)

    with people(tmp_path / "profile", "pages-journey") as open_person:
        # ================================================================ the applicant
        a = open_person("applicant", "America/New_York")
        a.page.goto(f"{sub}/apply/")
        assert "/apply/sign-in?next=" in a.page.url
        a.check("sign-in")
        press_tab_to(a, "#f-email")
        a.page.keyboard.type(APPLICANT)
        a.page.keyboard.press("Enter")
        a.page.get_by_role("heading", name="Check your mail").wait_for()
        a.check("link-sent")

        a.page.goto(wait_for_link(stack.smtp, APPLICANT))
        a.check("sign-in-link")
        press_tab_to(a, "button.primary")
        a.page.keyboard.press("Enter")
        a.page.get_by_role("heading", name="My proposals").wait_for()
        assert a.page.url == f"{sub}/apply/"
        assert "left" in a.page.locator(".countdown").first.inner_text()  # the deadline
        assert "America/New_York" in a.page.locator(".viewer-time").first.inner_text()
        a.check("home")

        a.page.get_by_role("link", name=f"Start a proposal for {TOPIC}").click()
        form = a.page.locator("form").filter(has=a.page.get_by_role("button",
                                                                    name="Create the draft"))
        form.get_by_label("Acronym").fill("GENTNET")
        form.get_by_label("Title").fill("Ghent network for integration")
        form.get_by_label("Abstract").fill("Three cities build one-stop shops together.")
        form.get_by_label("Duration in months").fill("24")
        form.get_by_label("Total eligible costs").fill("1000000.00")
        form.get_by_label("EU grant requested").fill("950000.00")  # above 90 %: a failed rule
        form.get_by_label("Housing").check()
        fill_participant(form, "Coordinator", "Stad Gent", "BE-GENT", "BE", APPLICANT, True)
        fill_participant(form, "Partner 1 (co-applicant)", "Ville de Lyon", "FR-LYON", "FR",
                         "europe@lyon.example.eu")
        fill_participant(form, "Partner 2 (co-applicant)", "Comune di Bologna", "IT-BOLOGNA",
                         "IT", "ue@bologna.example.it")
        a.check("new-proposal")
        form.get_by_role("button", name="Create the draft").click()
        a.page.get_by_text("Your draft is created").wait_for()
        proposal_url = a.page.url.split("?")[0]
        gentnet = proposal_url.rsplit("/", 1)[1]
        failed = a.page.locator("#failed-rules").inner_text()
        assert "cofinancing rate" in failed and "more than 90 %" in failed
        assert "The required part 'part_a' is missing." in failed
        a.check("failed-rule")

        edit = a.page.locator("form").filter(has=a.page.get_by_role("button",
                                                                    name="Save changes"))
        edit.get_by_label("EU grant requested").fill("800000.00")
        edit.get_by_role("button", name="Save changes").click()
        a.page.get_by_text("Your changes are saved").wait_for()
        assert "cofinancing rate" not in a.page.locator("#failed-rules").inner_text()

        for name, content in PARTS.items():
            row = a.page.locator(f"#part-{name}")
            row.locator("input[type=file]").set_input_files(
                files=[{"name": f"{name}.pdf", "mimeType": "application/pdf",
                        "buffer": content}])
            row.get_by_role("button", name="Upload").click()  # sent by the page's script
            a.page.get_by_text("The part is uploaded.").wait_for()
            assert a.page.locator(f"#part-{name}").get_by_role("link").inner_text() == \
                f"{name}.pdf"
        assert a.page.locator("#precheck-result").inner_text().startswith("Every rule")
        a.check("ready")

        a.page.get_by_role("button", name="Submit the proposal").click()
        a.page.get_by_text("Your proposal is submitted").wait_for()
        shown = a.page.locator("#content-hash").inner_text()
        api = stack.api("submission", "applicant", APPLICANT)
        assert api.get(f"/proposals/{gentnet}").json()["versions"][0]["content_hash"] == shown
        receipt = eventually(lambda: [m for m in stack.smtp.messages()
                                      if APPLICANT in m["rcpt_tos"] and shown in m["text"]],
                             message="the receipt mail with the hash and a sign-in link")
        assert "/apply/sign-in/link?token=" in receipt[0]["text"]
        a.check("receipt")

        # ================================================================ evaluation starts
        timetable = driver(stack)
        timetable.advance_to(timetable.resolve_stage("evaluation"))
        evaluation = stack.api("evaluation")
        holders = {x["expert_id"] for x in evaluation.get(
            "/assignments", params={"topic_id": TOPIC}).json() if x["proposal_id"] == lisnet}
        if holders != {"E1"}:  # operations give the evaluator both proposals
            moved = evaluation.post(f"/proposals/{lisnet}/override", json={
                "release": sorted(holders), "assign": ["E1"], "reason": "journey test"})
            assert moved.status_code == 200, moved.text
        assert {x["proposal_id"] for x in evaluation.get(
            "/assignments", params={"expert_id": "E1"}).json()} == {gentnet, lisnet}

        # ================================================================ the evaluator
        e = open_person("evaluator", "Asia/Tokyo")
        mailed = eventually(lambda: [link for link in sign_in_links(stack.smtp, EVALUATOR)],
                            message="an assignment mail with a sign-in link")
        e.page.goto(mailed[-1])
        e.check("sign-in-link")
        e.page.get_by_role("button", name="Sign in").click()
        e.page.wait_for_url(re.compile(r"/review/assignments/P-"))
        e.page.goto(f"{ev}/review/")
        listed = e.page.locator("#assignments").inner_text()
        assert "GENTNET" in listed and "LISNET" in listed
        assert "Asia/Tokyo" in e.page.locator(".viewer-time").first.inner_text()
        e.check("assignments")

        e.page.get_by_role("link", name="LISNET").click()
        e.check("conflicted-proposal")
        e.page.get_by_label("Why you have a conflict of interest").fill(
            "I worked with the Lisbon team in 2018.")
        e.page.get_by_role("button", name="Declare a conflict of interest").click()
        e.page.get_by_text("Your conflict of interest is recorded").wait_for()
        assert "LISNET" not in e.page.locator("main").inner_text()
        e.check("after-conflict")
        assert e.context.request.get(f"{ev}/review/assignments/{lisnet}").status == 404
        eventually(lambda: e.context.request.get(
            f"{sub}/review/parts/{lisnet}/part_a").status == 404,
            message="the released evaluator can no longer download the parts")

        e.page.get_by_role("link", name="GENTNET").click()
        assert "Three cities build one-stop shops together." in e.page.locator("#abstract").inner_text()
        download = e.context.request.get(f"{sub}/review/parts/{gentnet}/part_b")
        assert download.status == 200 and download.body() == PARTS["part_b"]
        seen = e.page.locator("main").inner_text()
        for other in ("Bruno", "Carla", "bruno@", "carla@", "LISNET"):
            assert other not in seen  # nothing about other evaluators or the other proposal
        for expert_id in ("E2", "E3"):  # as words: a proposal id's random hex may hold "E3"
            assert not re.search(rf"\b{expert_id}\b", seen), expert_id
        e.check("proposal")

        e.page.get_by_role("link", name="Write my report").click()
        comment = e.page.get_by_label("Comment on Relevance")
        comment.press_sequentially("Clear")  # checked as I type
        counter = e.page.locator("#f-criteria-relevance-comment-count")
        assert counter.inner_text() == "5 of at least 10 characters"
        for criterion, score in CRITERIA.items():
            group = e.page.get_by_role("group").filter(has=e.page.locator(
                f"[name='criteria.{criterion}.score']"))
            group.locator("input[type=number]").fill(score)
            group.locator("textarea").fill(f"Convincing on {criterion.replace('_', ' ')}.")
        assert counter.inner_text() == "24 of at least 10 characters"
        assert "threshold 21" in e.page.locator("main").inner_text()
        e.check("report-form")
        e.page.get_by_role("button", name="Save the draft").click()
        e.page.get_by_text("Your draft is saved.").wait_for()
        e.page.get_by_role("button", name="Save and finalise").click()
        e.page.get_by_role("heading", name=re.compile("Finalise your report")).wait_for()
        assert "87.5" in e.page.locator("#final-scores").inner_text()
        e.check("finalise")
        e.page.get_by_role("button", name="Yes, finalise the report").click()
        e.page.get_by_text("Your report is final.").wait_for()
        e.check("final")

        # ---------------------------------------------------------------- the other proposal
        refill = eventually(lambda: [x["expert_id"] for x in evaluation.get(
            "/assignments", params={"topic_id": TOPIC}).json() if x["proposal_id"] == lisnet],
            message="the conflicted slot refilled")
        other_email = {"E2": "bruno@experts.example", "E3": "carla@experts.example"}[refill[0]]
        scored = stack.api("evaluation", "evaluator", other_email).put(
            f"/me/assignments/{lisnet}/report", json={"final": True, "criteria": {
                c: {"score": 15 if c != "relevance" else 22,
                    "comment": "Adequate but thin."} for c in CRITERIA}})
        assert scored.status_code == 200, scored.text
        eventually(lambda: evaluation.get(
            f"/calls/{CALL}/topics/{TOPIC}/ranking").status_code == 200,
            message="the ranking published once both are evaluated")
        timetable.advance_to(timetable.resolve_stage("information_to_applicants"))

        # ================================================================ results and grant
        a.page.goto(proposal_url)
        a.page.get_by_role("link", name="Outcome and evaluation summary report").click()
        a.page.wait_for_url(f"{ev}/apply/results/{gentnet}")
        assert a.page.locator("#outcome").inner_text().startswith("Selected for funding (rank 1)")
        report = a.page.locator("#summary-report").inner_text()
        assert "87.5" in report and "Convincing on relevance." in report
        a.check("results")

        a.page.get_by_role("link", name="Go to grant preparation").click()
        a.page.wait_for_url(f"{grants}/apply/grants/")
        a.check("grants")
        a.page.get_by_role("link", name=f"GRANT-{gentnet}").click()
        a.page.get_by_label("I confirm that the grant data above is correct").check()
        a.check("grant")
        a.page.get_by_role("button", name="Confirm the grant data").click()
        a.page.get_by_text("You confirmed the grant data.").wait_for()
        a.page.get_by_label("I sign the grant agreement").check()
        a.page.get_by_role("button", name="Sign the grant agreement").click()
        a.page.get_by_text("You signed the grant agreement.").wait_for()
        assert a.page.locator("#grant-state").inner_text() == "coordinator signed"
        a.check("grant-signed")
        state = stack.api("grants").get(f"/grants/GRANT-{gentnet}").json()["state"]
        assert state == "coordinator_signed"
