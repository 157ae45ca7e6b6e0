"""Sign-in links in mail are minted per recipient, when the message is queued, and sign
the recipient in to the pages the message is about, landing on the right page."""
from urllib.parse import parse_qs, urlsplit

from services.notifications.adapters.sign_in_links import with_sign_in_links
from services.notifications.adapters.rendering import render
from services.notifications.domain.routing import route
from shared.pages.audiences import APPLY, REVIEW
from shared.pages.settings import PageSettings
from shared.pages.signin import read_sign_in

from . import factories as f

PAGES = PageSettings(secret="notifications-unit-test-secret-32b!",
                     urls={"submission": "http://127.0.0.1:8101",
                           "evaluation": "http://127.0.0.1:8102"})


def _token(note) -> str:
    return parse_qs(urlsplit(note.context["sign_in_url"]).query)["token"][0]


def test_each_contact_of_a_receipt_gets_a_link_of_their_own_to_the_proposal():
    notes = with_sign_in_links(route(f.submitted(), f.make_call(), f.OPS), PAGES)
    assert len(notes) == 2
    for note in notes:
        found = read_sign_in(PAGES, _token(note), APPLY)
        assert (found.email, found.next) == (note.recipient, "/apply/proposals/P-0042")
    assert _token(notes[0]) != _token(notes[1])


def test_an_assignment_link_signs_the_expert_in_to_the_assignment():
    note, = with_sign_in_links(route(f.assigned(), f.make_call(), f.OPS), PAGES)
    found = read_sign_in(PAGES, _token(note), REVIEW)
    assert found.next == "/review/assignments/P-0042"
    assert note.context["sign_in_url"] in render(note.template, note.context).body


def test_messages_without_a_link_are_left_as_they_are():
    notes = route(f.signed(), f.make_call(), f.OPS)
    assert with_sign_in_links(notes, PAGES) == notes
    assert all("sign_in_url" not in n.context for n in with_sign_in_links(notes, PAGES))


def test_a_sign_in_request_is_answered_to_the_address_that_asked_only():
    note, = with_sign_in_links(route(f.applicant_sign_in(next_url="/apply/proposals/P-1"),
                                     f.make_call(), f.OPS), PAGES)
    assert note.recipient == "anna.rossi@comune.example.it"
    assert read_sign_in(PAGES, _token(note), APPLY).next == "/apply/proposals/P-1"
