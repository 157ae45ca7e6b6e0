"""Sign-in links, sessions and CSRF tokens: what they accept and what they refuse."""
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.auth import AuthError, authenticate, issue_token
from shared.pages import csrf
from shared.pages.audiences import APPLY, REVIEW
from shared.pages.sessions import SessionState, open_session, read_session
from shared.pages.settings import PageSettings
from shared.pages.signin import read_sign_in, safe_next, sign_in_link

SETTINGS = PageSettings(secret="pages-unit-test-secret-of-32-bytes!", urls={"submission": "http://127.0.0.1:8101",
                                               "evaluation": "http://127.0.0.1:8102",
                                               "grants": "http://127.0.0.1:8103"})


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_a_sign_in_link_names_the_address_the_audience_and_where_to_go():
    link = sign_in_link(SETTINGS, "Anna@Example.EU ", REVIEW, "/review/assignments/P-1")
    assert link.startswith("http://127.0.0.1:8102/review/sign-in/link?token=")
    found = read_sign_in(SETTINGS, _token(link), REVIEW)
    assert (found.email, found.audience, found.next) == ("anna@example.eu", REVIEW,
                                                         "/review/assignments/P-1")
    assert not found.expired(datetime.now(timezone.utc))
    assert found.expired(datetime.now(timezone.utc) + timedelta(minutes=31))


def test_two_links_to_one_address_have_different_ids():
    first, second = (read_sign_in(SETTINGS, _token(sign_in_link(SETTINGS, "a@b.eu", APPLY)),
                                  APPLY) for _ in range(2))
    assert first.token_id != second.token_id


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature broken
    lambda t: "",
    lambda t: "x" * 5000,
])
def test_a_forged_or_absurd_link_is_refused(mangle):
    token = _token(sign_in_link(SETTINGS, "a@b.eu", APPLY))
    with pytest.raises(AuthError):
        read_sign_in(SETTINGS, mangle(token), APPLY)


def test_a_link_for_one_audience_does_not_sign_in_to_the_other():
    token = _token(sign_in_link(SETTINGS, "a@b.eu", APPLY))
    with pytest.raises(AuthError):
        read_sign_in(SETTINGS, token, REVIEW)


def test_a_link_signed_with_another_secret_is_refused():
    token = _token(sign_in_link(PageSettings(secret="another-secret-of-at-least-32-bytes"), "a@b.eu", APPLY))
    with pytest.raises(AuthError):
        read_sign_in(SETTINGS, token, APPLY)


def test_page_tokens_and_bearer_tokens_are_never_taken_for_each_other():
    link_token = _token(sign_in_link(SETTINGS, "a@b.eu", APPLY))
    cookie, _ = open_session(SETTINGS, "a@b.eu", APPLY)
    for token in (link_token, cookie):
        with pytest.raises(AuthError):
            authenticate(SETTINGS.secret, f"Bearer {token}")
    bearer = issue_token(SETTINGS.secret, "a@b.eu", "applicant")
    assert read_session(SETTINGS, bearer, APPLY) == SessionState.NONE
    with pytest.raises(AuthError):
        read_sign_in(SETTINGS, bearer, APPLY)
    # a session is not a sign-in link either
    with pytest.raises(AuthError):
        read_sign_in(SETTINGS, cookie, APPLY)


def test_a_session_is_read_back_and_expires():
    cookie, session = open_session(SETTINGS, "Anna@Example.eu", REVIEW)
    read = read_session(SETTINGS, cookie, REVIEW)
    assert (read.email, read.audience, read.session_id) == ("anna@example.eu", REVIEW,
                                                            session.session_id)
    assert read.principal.role == "evaluator"
    assert read_session(SETTINGS, cookie, APPLY) == SessionState.NONE
    old, _ = open_session(SETTINGS, "a@b.eu", REVIEW,
                          now=datetime.now(timezone.utc) - timedelta(hours=9))
    assert read_session(SETTINGS, old, REVIEW) == SessionState.EXPIRED
    assert read_session(SETTINGS, None, REVIEW) == SessionState.NONE


def test_a_csrf_token_is_bound_to_the_browser_and_the_session():
    key = csrf.new_browser_key()
    token = csrf.csrf_token("pages-unit-test-secret-of-32-bytes!", key, "sid-1")
    assert csrf.valid("pages-unit-test-secret-of-32-bytes!", key, "sid-1", token)
    assert not csrf.valid("pages-unit-test-secret-of-32-bytes!", key, "sid-2", token)  # signed in again
    assert not csrf.valid("pages-unit-test-secret-of-32-bytes!", csrf.new_browser_key(), "sid-1", token)  # another browser
    assert not csrf.valid("another-secret-of-at-least-32-bytes", key, "sid-1", token)
    assert not csrf.valid("pages-unit-test-secret-of-32-bytes!", key, "sid-1", None)
    assert not csrf.valid("pages-unit-test-secret-of-32-bytes!", None, "sid-1", token)


@pytest.mark.parametrize("next_url, expected", [
    ("/apply/proposals/P-1", "/apply/proposals/P-1"),
    ("/apply", "/apply"),
    ("http://127.0.0.1:8103/apply/grants/GRANT-P-1", "http://127.0.0.1:8103/apply/grants/GRANT-P-1"),
    ("http://127.0.0.1:8102/apply/results/P-1", "http://127.0.0.1:8102/apply/results/P-1"),
    ("https://evil.example/apply/", "/apply/"),  # another site
    ("//evil.example/apply/", "/apply/"),  # scheme-relative
    ("/review/", "/apply/"),  # another audience's pages
    ("/applyx", "/apply/"),
    ("javascript:alert(1)", "/apply/"),
    ("/apply/\r\nSet-Cookie: x", "/apply/"),
    ("", "/apply/"),
    (None, "/apply/"),
])
def test_after_signing_in_a_person_only_goes_to_pages_of_the_audience(next_url, expected):
    assert safe_next(SETTINGS, next_url, APPLY) == expected


def test_settings_refuse_lifetimes_out_of_bounds():
    with pytest.raises(ValueError, match="sign_in_minutes"):
        PageSettings.from_config({"PAGES": {"sign_in_minutes": 0}})
    with pytest.raises(ValueError, match="secure_cookies"):
        PageSettings.from_config({"PAGES": {"secure_cookies": "sometimes"}})
    settings = PageSettings.from_config({"SERVICE_URLS": {"grants": "http://h:1/"},
                                         "PAGES": {"urls": {"submission": "https://x.eu/"}}})
    assert settings.urls == {"grants": "http://h:1", "submission": "https://x.eu"}
    assert settings.origins == {"http://h:1", "https://x.eu"}


def test_behind_a_proxy_every_link_points_to_the_one_public_origin(monkeypatch):
    from shared.config import service_config
    monkeypatch.setenv("GRANTFLOW_PUBLIC_URL", "https://grants.example.eu/")
    settings = PageSettings.from_config(service_config("notifications"))
    link = sign_in_link(settings, "a@b.eu", REVIEW)
    assert link.startswith("https://grants.example.eu/review/sign-in/link?token=")
    assert settings.origins == {"https://grants.example.eu"}
    monkeypatch.delenv("GRANTFLOW_PUBLIC_URL")
    assert "PAGES" not in service_config("notifications") or \
        not service_config("notifications")["PAGES"]
