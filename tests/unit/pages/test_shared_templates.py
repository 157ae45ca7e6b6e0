"""The shared pages render, every control has a label, and nothing inline needs the CSP
to be relaxed."""
import re

from shared.pages.audiences import APPLY, REVIEW
from shared.pages.route import error_page, PageError, secure_headers
from tests.unit.pages.support import SETTINGS, page_for, unlabelled_controls


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_the_sign_in_page_asks_for_an_address_with_a_labelled_field_and_a_csrf_token():
    page = page_for("/apply/sign-in", APPLY, "submission")
    html = _html(page.render("sign_in.html.j2", email="", errors=[], next="/apply/",
                             reason="expired", minutes=30))
    assert "Sign in to the applicants' pages" in html
    assert "Your session has expired" in html
    assert f'name="csrf_token" value="{page.csrf_token}"' in html
    assert unlabelled_controls(html) == []
    assert not re.search(r"<script>|<style>|style=|onclick=", html)
    assert '<script src="/apply/static/pages.js" defer></script>' in html


def test_a_field_error_is_listed_and_tied_to_its_field():
    page = page_for("/review/sign-in", REVIEW, "evaluation")
    html = _html(page.render("sign_in.html.j2", email="nope", status=422,
                             errors=[{"field": "email", "rule": "Not a valid email address."}],
                             next="/review/", reason="", minutes=30))
    assert '<a href="#f-email">email</a>: Not a valid email address.' in html
    assert 'aria-describedby="f-email-error-1" aria-invalid="true"' in html
    assert "Sign in to the evaluators' pages" in html


def test_errors_become_pages_with_their_status_and_the_strict_policy():
    page = page_for("/apply/proposals/P-X", APPLY, "submission")
    response = secure_headers(error_page(PageError(404, "not_found"), page, page.request),
                              SETTINGS)
    assert response.status_code == 404
    assert "There is nothing here, or it is not yours to see." in _html(response)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "form-action 'self' http://127.0.0.1:8101 http://127.0.0.1:8102" in policy
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unexpected_error_shows_an_id_and_no_detail():
    page = page_for("/apply/", APPLY, "submission")
    html = _html(error_page(RuntimeError("secret detail"), page, page.request))
    assert "secret detail" not in html
    assert re.search(r"Please quote the reference [0-9a-f]{12}", html)


def test_a_new_browser_gets_a_csrf_cookie_that_is_http_only_and_strict():
    page = page_for("/apply/sign-in", APPLY, "submission")
    response = page.finish(page.render("sign_in.html.j2", email="", errors=[], next="/apply/",
                                       reason="", minutes=30))
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("gf_csrf=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie and "Secure" not in cookie


def test_a_session_cookie_is_scoped_to_its_audience_and_secure_over_https():
    page = page_for("/apply/sign-in/link", APPLY, "submission",
                    headers={"X-Forwarded-Proto": "https"})
    page.start_session("a@b.eu", APPLY)
    cookies = page.finish(page.redirect("/apply/")).headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("gf_apply="))
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/apply", "Secure", "Max-Age=28800"):
        assert attribute in session


def test_the_access_log_never_shows_a_sign_in_token():
    import logging
    from shared.pages.route import redact_access_log
    redact_access_log()
    record = logging.LogRecord("nameko.web.server", logging.INFO, "x", 1,
                               '127.0.0.1 - - "GET /apply/sign-in/link?token=eyJ.abc.def '
                               'HTTP/1.1" 200', None, None)
    for log_filter in logging.getLogger("nameko.web.server").filters:
        log_filter.filter(record)
    assert "eyJ" not in record.getMessage() and "token=[redacted]" in record.getMessage()


def test_every_form_that_posts_carries_a_csrf_token():
    """Each ``<form method="post">`` of every page template includes ``forms.csrf()`` (the
    route refuses a POST without a valid token anyway; this keeps the forms usable)."""
    from tests.unit.pages.support import ROOT
    templates = [*ROOT.glob("shared/pages/templates/*.j2"),
                 *ROOT.glob("services/*/pages/templates/*.j2")]
    assert len(templates) > 20
    for path in templates:
        text = path.read_text()
        for form in re.findall(r"<form\b.*?</form>", text, flags=re.S):
            if 'method="post"' in form:
                assert "forms.csrf()" in form, f"{path.name}: a form without a CSRF token"
