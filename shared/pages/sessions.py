"""The browser session: a signed cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)
naming the person and the audience, valid for ``PAGES.session_hours``.

Sessions are stateless: every service sharing the secret can check one without asking
the service that opened it. Sign-out deletes the cookie, and since browsers share cookies
across the ports of one host (and one origin behind a proxy), that signs the browser out
of every service at once. What it cannot do is recall a copy of the cookie taken before
sign-out: such a copy works until its expiry. The lifetime is kept short for that reason
(8 hours by default); a deployment that needs instant recall puts a session table behind
``read_session``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from shared.auth import AuthError, Principal, issue_page_token, read_page_token
from shared.pages.audiences import Audience
from shared.pages.settings import PageSettings


@dataclass(frozen=True)
class Session:
    email: str
    audience: Audience
    session_id: str
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        """Who the handlers the JSON API uses see: the same roles, the same checks."""
        return Principal(email=self.email, role=self.audience.role)


def open_session(settings: PageSettings, email: str, audience: Audience,
                 now: datetime | None = None) -> tuple[str, Session]:
    """A new session: the cookie value and what it says."""
    now = now or datetime.now(timezone.utc)
    session_id = uuid.uuid4().hex
    value = issue_page_token(settings.secret, "session", {
        "sub": email.strip().lower(), "aud": audience.name, "sid": session_id},
        settings.session_ttl, now)
    return value, Session(email.strip().lower(), audience, session_id,
                          (now + settings.session_ttl).replace(microsecond=0))


class SessionState:
    """What the cookie said: no cookie, an expired one, or a session."""

    NONE, EXPIRED = "none", "expired"


def read_session(settings: PageSettings, value: str | None,
                 audience: Audience) -> Session | str:
    """The session in ``value``, or ``SessionState.NONE``/``EXPIRED`` (a forged or
    foreign cookie counts as none: the person simply signs in)."""
    if not value or len(value) > 4096:
        return SessionState.NONE
    try:
        claims = read_page_token(settings.secret, "session", value, audience.name)
    except AuthError as exc:
        return SessionState.EXPIRED if "expired" in exc.message else SessionState.NONE
    return Session(claims["sub"], audience, str(claims.get("sid") or ""),
                   datetime.fromtimestamp(claims["exp"], timezone.utc))


def cookie_options(secure: bool, path: str) -> dict:
    """The attributes of every cookie the pages set (werkzeug ``set_cookie`` keywords)."""
    return {"path": path, "httponly": True, "samesite": "Strict", "secure": secure}
