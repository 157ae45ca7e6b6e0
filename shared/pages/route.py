"""``@html(method, url, ...)``: the entrypoint of an HTML route.

It is ``shared.web``'s ``@api`` (same server, request reading, body limits and metrics)
with what a page needs instead of a bearer token:

- the session of the route's audience from its cookie (``signed_in=True`` routes send
  a person without one to the audience's sign-in page, and back afterwards);
- a CSRF check on every POST (the token from the form, or ``X-CSRF-Token`` for the
  upload script), before the entrypoint runs;
- the language from ``Accept-Language``, the templates of the service (its
  ``pages/templates``) then the shared ones;
- every response gets the strict CSP (no inline script or style, forms only to the
  services), ``no-store``, ``nosniff``, no referrer, and no framing;
- errors are pages: 404/409/422/403 with the message the JSON API would give, 500 with
  an error id (never a traceback).

The entrypoint receives ``page=`` (:class:`Page`) and returns ``page.render(...)`` or
``page.redirect(...)``.
"""
from __future__ import annotations

import logging
import re
import mimetypes
import uuid
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from eventlet import corolocal
from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared.auth import AuthError
from shared.clock import clock_from_setting
from shared.pages import csrf
from shared.pages.audiences import AUDIENCES, STATIC_PREFIX, Audience
from shared.pages.i18n import negotiate, translations
from shared.pages.rendering import environment
from shared.pages.sessions import Session, SessionState, cookie_options, open_session, \
    read_session
from shared.pages.settings import PageSettings, origin
from shared.web import ApiError, ApiRoute, validation_errors

_log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_BODY = 256 * 1024  # bytes of a form; uploads say their own limit
_PAGE_KEY = "grantflow.page"


class _RedactTokens(logging.Filter):
    """The access log prints request lines: a sign-in link's token must not land in a log
    file (it is single-use and short-lived, but a log outlives both)."""

    _TOKEN = re.compile(r"(token=)[^\s&\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = self._TOKEN.sub(r"\1[redacted]", record.msg)
        return True


def redact_access_log() -> None:
    logger = logging.getLogger("nameko.web.server")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())


class SignInRequired(Exception):
    """The route needs a session the request does not have."""


class PageError(Exception):
    """An error shown as a page with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Page:
    """One request to a page: who is signed in, the CSRF token, the language; renders
    templates and redirects, and sets the cookies it decided on."""

    def __init__(self, request, settings: PageSettings, audience: Audience | None,
                 service: str, template_dirs: tuple[str, ...], clock):
        self.request = request
        self.settings = settings
        self.audience = audience
        self.service = service
        self.template_dirs = template_dirs
        self.clock = clock
        self.locale = negotiate(request.accept_languages)
        key = request.cookies.get(csrf.COOKIE, "")
        self._new_browser_key = None if 16 <= len(key) <= 100 else csrf.new_browser_key()
        self.browser_key = self._new_browser_key or key
        state = read_session(settings, request.cookies.get(audience.cookie), audience) \
            if audience else SessionState.NONE
        self.session: Session | None = state if isinstance(state, Session) else None
        self.session_expired = state == SessionState.EXPIRED
        self._set_cookies: list[tuple[str, str, dict]] = []

    # ---------------------------------------------------------------- who, where
    @property
    def principal(self):
        return self.session.principal if self.session else None

    @property
    def secure(self) -> bool:
        if self.settings.secure_cookies != "auto":
            return self.settings.secure_cookies == "always"
        return self.request.scheme == "https" or \
            self.request.headers.get("X-Forwarded-Proto", "").lower() == "https"

    @property
    def own_origin(self) -> str:
        return origin(self.request.host_url)

    def now(self) -> datetime:
        """The service clock (simulated in replays): what deadlines are compared with."""
        return self.clock.now()

    def url(self, service: str, path: str) -> str:
        """``path`` on ``service``: relative when it is this service."""
        return path if service == self.service else self.settings.url(service, path)

    def sign_in_url(self, next_url: str = "", audience: Audience | None = None) -> str:
        audience = audience or self.audience
        query = f"?next={quote(next_url, safe='')}" if next_url else ""
        return self.url(audience.service, f"{audience.path}/sign-in{query}")

    def gettext(self, message: str) -> str:
        """A page's own message (marked with ``N_``) in the page's language. Messages from
        the domain and the schemas are shown as they come (they are not msgids)."""
        return translations(self.locale).gettext(message)

    # ---------------------------------------------------------------- forms
    @property
    def csrf_token(self) -> str:
        return csrf.csrf_token(self.settings.secret, self.browser_key,
                               self.session.session_id if self.session else "")

    def check_csrf(self) -> None:
        sent = self.request.form.get(csrf.FIELD) or self.request.headers.get(csrf.HEADER)
        if self._new_browser_key or not csrf.valid(
                self.settings.secret, self.browser_key,
                self.session.session_id if self.session else "", sent):
            raise PageError(400, "form_expired")

    @property
    def form(self):
        return self.request.form

    # ---------------------------------------------------------------- sessions
    def start_session(self, email: str, audience: Audience) -> Session:
        value, session = open_session(self.settings, email, audience)
        self._set_cookies.append((audience.cookie, value, {
            **cookie_options(self.secure, audience.path),
            "max_age": int(self.settings.session_ttl.total_seconds())}))
        return session

    def end_session(self) -> None:
        self._set_cookies.append((self.audience.cookie, "", {
            **cookie_options(self.secure, self.audience.path), "max_age": 0,
            "expires": 0}))

    # ---------------------------------------------------------------- responses
    def render(self, template: str, status: int = 200, **context) -> Response:
        env = environment(self.template_dirs, self.locale)
        context.setdefault("notice", "")  # a line confirming what was just done
        html = env.get_template(template).render(page=self, **context)
        return Response(html, status=status, mimetype="text/html")

    def redirect(self, location: str, status: int = 303) -> Response:
        return Response("", status=status, headers={"Location": location})

    def static(self, name: str) -> str:
        return f"{STATIC_PREFIX[self.service]}/{name}"

    def finish(self, response: Response) -> Response:
        if self._new_browser_key:
            response.set_cookie(csrf.COOKIE, self._new_browser_key,
                                **cookie_options(self.secure, "/"))
        for name, value, options in self._set_cookies:
            response.set_cookie(name, value, **options)
        return secure_headers(response, self.settings)


def secure_headers(response: Response, settings: PageSettings) -> Response:
    """The strict policy of every page: scripts, styles and requests only from this
    origin (no inline code at all), forms only to the services, no framing."""
    forms = " ".join(["'self'", *sorted(settings.origins)])
    response.headers.setdefault("Content-Security-Policy", (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action {forms}; base-uri 'none'; frame-ancestors 'none'"))
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


class PageRoute(ApiRoute):
    serves_html = True  # an HTML page, not a route of the JSON API (OpenAPI documents)

    def __init__(self, method: str, url: str, audience: str | None = None,
                 signed_in: bool = True, max_body=DEFAULT_MAX_BODY,
                 csrf_checked: bool = True, **kwargs):
        kwargs.setdefault("expected_exceptions", (ApiError, ValidationError, AuthError,
                                                  PageError, SignInRequired))
        super().__init__(method, url, public=True, **kwargs)
        self.audience = AUDIENCES[audience] if audience else None
        self.signed_in = signed_in and audience is not None
        self.max_body = max_body  # bytes, or a function of the config (uploads)
        self.csrf_checked = csrf_checked  # False only where the view checks it itself

    def setup(self):
        super().setup()
        self._local = corolocal.local()
        redact_access_log()
        config = self.container.config
        self.settings = PageSettings.from_config(config)
        self.clock = clock_from_setting(config.get("CLOCK"))
        package = Path(__import__(self.container.service_cls.__module__,
                                  fromlist=["_"]).__file__).resolve().parent
        self.template_dirs = (str(package / "pages" / "templates"),)
        if callable(self.max_body):
            self.max_body = int(self.max_body(config))

    def get_entrypoint_parameters(self, request):
        request.max_content_length = self.max_body
        args, kwargs = HttpRequestHandler.get_entrypoint_parameters(self, request)
        page = Page(request, self.settings, self.audience, self.container.service_name,
                    self.template_dirs, self.clock)
        request.environ[_PAGE_KEY] = page
        if request.method == "POST" and self.csrf_checked:
            page.check_csrf()
        if self.signed_in and page.session is None:
            raise SignInRequired()
        return args, {**kwargs, "page": page}

    def handle_request(self, request):
        # the error page needs the request's Page: errors reach response_from_exception
        # in this same green thread, without the request
        self._local.request = request
        try:
            response = super().handle_request(request)
        finally:
            self._local.request = None
        page = request.environ.get(_PAGE_KEY)
        return page.finish(response) if page is not None else secure_headers(
            response, self.settings)

    def response_from_result(self, result):
        if not isinstance(result, Response):
            raise TypeError(f"a page returns a Response, not {type(result).__name__}")
        return result

    def response_from_exception(self, exc):
        request = getattr(self._local, "request", None)
        page = request.environ.get(_PAGE_KEY) if request is not None else None
        try:
            return error_page(exc, page, request)
        except Exception:  # an error page that fails must not hide the first error
            _log.exception("the error page for %r failed", exc)
            return Response("Internal error", status=500, mimetype="text/plain")


def error_page(exc, page: Page | None, request) -> Response:
    """The page for an error: sign-in for a missing session, the error's status and
    message otherwise (the same message the JSON API gives), 500 with an id to quote."""
    if isinstance(exc, SignInRequired) and page is not None:
        return page.redirect(page.sign_in_url(request.url) + (
            "&expired=1" if page.session_expired else ""))
    status, message, errors = 500, "", []
    if isinstance(exc, PageError):
        status, message = exc.status, exc.message
    elif isinstance(exc, ApiError):
        status, message, errors = exc.status, exc.message, exc.errors or []
    elif isinstance(exc, ValidationError):
        errors = validation_errors(exc)
        status, message = 422, "; ".join(f"{e['field']}: {e['rule']}" for e in errors)
    elif isinstance(exc, AuthError):
        status, message = exc.status, exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.code or 500, exc.description or exc.name
    error_id = ""
    if status >= 500:
        error_id = uuid.uuid4().hex[:12]
        _log.error("unhandled error %s on %s", error_id, request.url if request else "?",
                   exc_info=(type(exc), exc, exc.__traceback__))
        message = ""
    if page is None:
        return Response(f"{status} {message}".strip(), status=status, mimetype="text/plain")
    return page.render("error.html.j2", status=status, status_code=status, message=message,
                       errors=errors if isinstance(errors, list) else [], error_id=error_id)


@lru_cache(maxsize=1)
def static_files() -> frozenset[str]:
    return frozenset(p.name for p in STATIC_DIR.iterdir() if p.is_file())


def static_file(name: str) -> Response:
    """One of the shared static files (a fixed list: no path ever reaches the disk)."""
    if name not in static_files():
        raise PageError(404, "not_found")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response((STATIC_DIR / name).read_bytes(), mimetype=kind)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


html = PageRoute.decorator
