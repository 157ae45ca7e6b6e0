"""The sign-in pages every signing service serves under its audience's prefix:
``GET/POST <prefix>/sign-in`` (ask for a link), ``GET/POST <prefix>/sign-in/link`` (use
it), ``POST <prefix>/sign-out``. The service gives the one thing that differs:
``announce(uow, email, next_url, now)`` (inside the transaction), the event asking notifications to mail the
link (or None: an evaluation service sends nothing to an address that is no expert's).
The page a person sees is the same either way: it never tells whether an address is
known."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from marshmallow import ValidationError

from shared.auth import AuthError
from shared.events import Event
from shared.pages.forms import SignInRequestSchema, errors_of, text
from shared.pages.route import html
from shared.pages.signin import read_sign_in, safe_next
from shared.pages.tables import allow_request, sign_in_used, use_token

Announce = Callable[[object, str, str, datetime], Event | None]


def _minutes(page) -> int:
    return int(page.settings.sign_in_ttl.total_seconds() // 60)


def _next(page, value: str | None) -> str:
    return safe_next(page.settings, value, page.audience, page.own_origin)


def form(page):
    args = page.request.args
    reason = "expired" if args.get("expired") else args.get("reason", "")
    return page.render("sign_in.html.j2", email="", errors=[], next=_next(page, args.get("next")),
                       reason=reason if reason in ("expired", "signed_out", "link_used") else "",
                       minutes=_minutes(page))


def request_link(page, uow, announce: Announce):
    try:
        body = SignInRequestSchema().load({"email": text(page.form, "email").strip(),
                                           "next": text(page.form, "next")})
    except ValidationError as exc:
        return page.render("sign_in.html.j2", status=422, email=text(page.form, "email"),
                           errors=errors_of(exc), next=_next(page, text(page.form, "next")),
                           reason="", minutes=_minutes(page))
    email = body["email"].strip().lower()
    with uow:
        if allow_request(uow.session, email, datetime.now(timezone.utc),
                         page.settings.sign_in_requests_per_hour):
            event = announce(uow, email, _next(page, body["next"]), page.now())
            if event is not None:
                uow.add_events(event)
        uow.commit()
    return page.render("sign_in_sent.html.j2", email=email, minutes=_minutes(page))


def _link_state(page, uow, token: str):
    """(state, SignInToken or None): valid, expired, used or invalid."""
    try:
        found = read_sign_in(page.settings, token, page.audience)
    except AuthError:
        return "invalid", None
    if found.expired(datetime.now(timezone.utc)):
        return "expired", found
    with uow:
        used = uow.session.execute(sign_in_used.select().where(
            sign_in_used.c.token_id == found.token_id)).first() is not None
    return ("used" if used else "valid"), found


def link(page, uow):
    token = page.request.args.get("token", "")
    state, found = _link_state(page, uow, token)
    return page.render("sign_in_link.html.j2", state=state, token=token,
                       email=found.email if found else "",
                       next=_next(page, found.next if found else ""))


def use_link(page, uow):
    token = text(page.form, "token")
    state, found = _link_state(page, uow, token)
    if state == "valid":
        with uow:
            fresh = use_token(uow.session, found.token_id, found.email, found.expires_at,
                              datetime.now(timezone.utc))
            uow.commit()
        if fresh:
            page.start_session(found.email, page.audience)
            return page.redirect(_next(page, found.next))
        state = "used"
    return page.render("sign_in_link.html.j2", status=400, state=state, token="",
                       email=found.email if found else "",
                       next=_next(page, found.next if found else ""))


def sign_out(page):
    """Deletes the session cookie, which every service on this host shares. The route
    checks no CSRF token itself: with a session the form's token must be valid; without
    one (it expired) there is nothing to protect and the person is signed out already."""
    if page.session is not None:
        page.check_csrf()
    page.end_session()
    return page.redirect(f"{page.audience.path}/sign-in?reason=signed_out")


def sign_in_routes(audience_name: str, announce: Announce) -> type:
    """The sign-in entrypoints of the service that signs ``audience_name`` in, as a base
    class for its nameko service (which has ``uow``)."""
    prefix = f"/{audience_name}"
    public = {"audience": audience_name, "signed_in": False}

    class SignInRoutes:
        @html("GET", f"{prefix}/sign-in", **public)
        def page_sign_in(self, request, page):
            return form(page)

        @html("POST", f"{prefix}/sign-in", **public)
        def page_request_link(self, request, page):
            return request_link(page, self.uow, announce)

        @html("GET", f"{prefix}/sign-in/link", **public)
        def page_link(self, request, page):
            return link(page, self.uow)

        @html("POST", f"{prefix}/sign-in/link", **public)
        def page_use_link(self, request, page):
            return use_link(page, self.uow)

        @html("POST", f"{prefix}/sign-out", csrf_checked=False, **public)
        def page_sign_out(self, request, page):
            return sign_out(page)

    return SignInRoutes
