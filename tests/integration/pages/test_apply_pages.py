"""The applicants' pages over HTTP (no browser) on the real submission and notifications
services, PostgreSQL, RabbitMQ and SMTP: signing in (the link by mail, single use, the
session cookie, CSRF, sign-out, a page that never tells whether an address is known),
then a draft made with the form, each refusal at its field, the pre-check naming the
call's failed rule, parts uploaded, submission and the receipt, and someone else's
proposal kept out of sight. The browser journey (tests/e2e/test_pages_journey.py) walks
the same pages in Chromium."""
import re

import pytest

from tests.support.infra import eventually, stays
from tests.support.pages_client import Visitor, sign_in, sign_in_links, wait_for_link
from tests.support.submission_data import call_yaml

pytestmark = pytest.mark.integration

CALL = "AMIF-2018-AG-INTE"
TOPIC = f"{CALL}-1"
EMAIL = "Coordinator@Ghent.example.eu"


def test_an_applicant_signs_in_drafts_checks_fixes_uploads_and_submits(stack):
    # one stack for both stories: starting the services is the slow part of these tests
    stack.start("submission", "notifications")
    assert stack.api("submission").post("/calls", data=call_yaml().encode()).status_code == 201
    sign_in_story(stack)
    drafting_story(stack)


def signed_in(stack, email: str) -> Visitor:
    base = stack.url("submission")
    person = Visitor()
    person.get(f"{base}/apply/sign-in")
    person.post(f"{base}/apply/sign-in", {"email": email})
    sign_in(person, wait_for_link(stack.smtp, email))
    return person


def participant(prefix: str, name: str, country: str, email: str, lra=True, exp=False) -> dict:
    data = {f"{prefix}.legal_name": name, f"{prefix}.organisation_id": f"ORG-{name}",
            f"{prefix}.country": country, f"{prefix}.entity_type": "public_body",
            f"{prefix}.contact_email": email}
    if lra:
        data[f"{prefix}.local_or_regional_authority"] = "yes"
    if exp:
        data[f"{prefix}.experienced_in_integration"] = "yes"
    return data


def sign_in_story(stack):
    """The link by mail, used once; the session cookie; CSRF; sign-out; the same page for
    any address and a bound on the mail per address."""
    base = stack.url("submission")
    person = Visitor()

    # a page needs a session: to the sign-in page, and back afterwards
    first = person.get(f"{base}/apply/proposals/P-X", allow_redirects=False)
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/apply/sign-in?next=")
    form = person.get(base + first.headers["Location"])
    assert form.status_code == 200 and "E-mail me a sign-in link" in form.text
    policy = form.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy

    sent = person.post(f"{base}/apply/sign-in", {"email": EMAIL,
                                                 "next": f"{base}/apply/"})
    assert sent.status_code == 200 and "Check your mail" in sent.text
    link = wait_for_link(stack.smtp, EMAIL)
    assert link.startswith(f"{base}/apply/sign-in/link?token=")

    # a GET of the link (a mail scanner) does not use it; the button does
    person.get(link)
    signed = sign_in(person, link)
    assert signed.url == f"{base}/apply/" and "My proposals" in signed.text
    cookie = next(c for c in person.http.cookies if c.name == "gf_apply")
    assert cookie.path == "/apply" and cookie.has_nonstandard_attr("HttpOnly")
    assert "SameSite=Strict" in signed.history[0].headers["Set-Cookie"]
    assert "coordinator@ghent.example.eu" in signed.text  # signed in as

    # the link works once
    again = Visitor().get(link)
    assert "This sign-in link was already used" in again.text
    assert "E-mail me a new link" in again.text

    # forms without a valid CSRF token are refused before anything happens
    refused = person.post(f"{base}/apply/sign-out", csrf=False)
    assert refused.status_code == 400 and "The form has expired" in refused.text
    stranger = Visitor()
    stranger.http.cookies.set("gf_apply", cookie.value, path="/apply")
    stranger.get(f"{base}/apply/sign-in")  # its own CSRF cookie, not the victim's
    assert stranger.post(f"{base}/apply/sign-out", {"csrf_token": "forged"},
                         csrf=False).status_code == 400

    # sign-out deletes the session: the pages ask for a sign-in again
    person.get(f"{base}/apply/")
    out = person.post(f"{base}/apply/sign-out")
    assert "You are signed out." in out.text
    assert person.get(f"{base}/apply/", allow_redirects=False).status_code == 303

    # the page is the same for any address, and the mail per address is bounded
    answers = []
    for _ in range(6):  # the limit is 5 per address and hour
        person.get(f"{base}/apply/sign-in")
        answers.append(person.post(f"{base}/apply/sign-in",
                                   {"email": "flood@example.eu"}).text)
    assert len(set(answers)) == 1 and "Check your mail" in answers[0]
    eventually(lambda: len(sign_in_links(stack.smtp, "flood@example.eu")) == 5,
               message="five links")
    stays(lambda: len(sign_in_links(stack.smtp, "flood@example.eu")) == 5, duration=1.5)

    person.get(f"{base}/apply/sign-in")
    bad = person.post(f"{base}/apply/sign-in", {"email": "not an address"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text


def drafting_story(stack):
    """A draft from the form, each refusal at its field, the pre-check naming the call's
    failed rules, the fix, parts, submission and the receipt; nothing for another one."""
    base = stack.url("submission")
    me = signed_in(stack, "ghent@example.eu")

    me.get(f"{base}/apply/")
    assert f"Start a proposal for {TOPIC}" in me.text()
    form = me.get(f"{base}/apply/calls/{CALL}/new?topic_id={TOPIC}")
    assert 'value="ghent@example.eu"' in form.text  # the coordinator contact: me

    draft = {"topic_id": TOPIC, "acronym": "NETINT", "title": "Network for integration",
             "abstract": "Cities learn together.", "duration_months": "24",
             "total_eligible_costs": "1000000.00", "requested_grant": "950000.00",
             "integration_areas": ["housing"], "partner_rows": "2",
             **participant("coordinator", "Ghent", "BE", "ghent@example.eu", exp=True),
             **participant("co_applicants[0]", "Lyon", "fr", "europe@lyon.example.eu"),
             "co_applicants[1].country": "XX"}  # a half-filled row: named at its field

    refused = me.post(f"{base}/apply/calls/{CALL}/new", draft)
    assert refused.status_code == 422
    assert re.search(r'href="#f-co_applicants-1-legal_name">co_applicants\[1\]\.legal_name', refused.text)
    assert 'value="Lyon"' in refused.text  # what was typed is kept

    draft.update({"co_applicants[1].country": "", "duration_months": "24"})
    created = me.post(f"{base}/apply/calls/{CALL}/new", draft)
    assert created.status_code == 200 and "Your draft is created" in created.text
    proposal_url = created.url.split("?")[0]
    proposal_id = proposal_url.rsplit("/", 1)[1]
    assert "Lyon" in created.text and 'value="FR"' in created.text  # upper-cased

    # the pre-check runs the call's rules: missing parts, too few entities, 95 % grant
    check = me.text()
    assert "cofinancing rate" in check and "more than 90 % of the total eligible costs" in check
    assert "min entities" in check and "The required part 'part_a' is missing." in check

    # fix: a third partner and 80 %
    fixed = {k: v for k, v in draft.items() if k != "topic_id"}
    fixed.update(requested_grant="800000.00", partner_rows="3",
                 **participant("co_applicants[1]", "Bologna", "IT", "ue@bologna.example.it"))
    saved = me.post(proposal_url, fixed)
    assert "Your changes are saved" in saved.text
    assert "cofinancing rate" not in me.text() and "min entities" not in me.text()

    for name in ("part_a", "part_b", "budget"):
        uploaded = me.post(f"{proposal_url}/parts/{name}",
                           files={"file": (f"{name}.pdf", b"%PDF-1.4 " + name.encode())})
        assert "The part is uploaded." in uploaded.text
    assert "Every rule of the call passes" in me.text() or "mind the warnings" in me.text()
    part = me.get(f"{proposal_url}/parts/part_b")
    assert part.content == b"%PDF-1.4 part_b"

    me.get(proposal_url)
    receipt = me.post(f"{proposal_url}/submit")
    assert receipt.url.endswith(f"/apply/proposals/{proposal_id}/versions/1?done=submitted")
    shown_hash = re.search(r'id="content-hash">([0-9a-f]{64})<', receipt.text).group(1)
    api = stack.api("submission", role="applicant", email="ghent@example.eu")
    assert api.get(f"/proposals/{proposal_id}").json()["versions"][0]["content_hash"] == shown_hash

    # withdrawal asks for a confirmation, then is final
    me.get(proposal_url)
    unconfirmed = me.post(f"{proposal_url}/withdraw", {"reason": "Partner left"})
    assert unconfirmed.status_code == 422 and "tick the box to confirm" in unconfirmed.text
    withdrawn = me.post(f"{proposal_url}/withdraw", {"reason": "Partner left", "confirm": "yes"})
    assert "The proposal is withdrawn." in withdrawn.text and 'id="state"' in withdrawn.text
    assert api.get(f"/proposals/{proposal_id}").json()["state"] == "withdrawn"

    # another applicant sees nothing of it
    other = signed_in(stack, "someone@else.example")
    assert other.get(proposal_url).status_code == 404
    assert other.get(f"{proposal_url}/parts/part_a").status_code == 404
    assert "NETINT" not in other.get(f"{base}/apply/").text
