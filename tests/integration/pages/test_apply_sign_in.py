"""Signing in to the applicants' pages through the real submission and notifications
services, PostgreSQL, RabbitMQ and SMTP: the link by mail, single use, the session
cookie, CSRF, sign-out, and a page that never tells whether an address is known."""
import pytest

from tests.support.infra import eventually, stays
from tests.support.pages_client import Visitor, sign_in, sign_in_links, wait_for_link
from tests.support.submission_data import call_yaml

pytestmark = pytest.mark.integration

EMAIL = "Coordinator@Ghent.example.eu"


@pytest.fixture
def apply_stack(stack):
    stack.start("submission", "notifications")
    ops = stack.api("submission")
    assert ops.post("/calls", data=call_yaml().encode()).status_code in (200, 201)
    return stack


def test_an_applicant_signs_in_with_the_mailed_link_once_and_signs_out(apply_stack):
    stack, base = apply_stack, apply_stack.url("submission")
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


def test_the_page_is_the_same_for_any_address_and_the_mail_per_address_is_bounded(apply_stack):
    stack, base = apply_stack, apply_stack.url("submission")
    person = Visitor()
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
