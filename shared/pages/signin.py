"""Sign-in links: a short-lived, single-use signed token in a URL, mailed to a person.

The notifications service mints the link when it queues a message that carries one (the
sign-in mail, the receipt, the assignment), so the token never travels through the
broker or lands in another service's event log. The signing service of the audience
(submission for ``/apply/``, evaluation for ``/review/``) checks the token and marks its
id used in the same transaction that opens the session: a second use is refused. The
link opens a page with a button; only that POST uses the token, so a mail scanner that
fetches links does not burn it, and the session cookie (SameSite=Strict) is set by a
same-site request.

Lifetimes are measured on the wall clock, not the service clock: they protect against
real people and real leaks, whatever day a replay's simulated clock shows.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from shared.auth import AuthError, issue_page_token, read_page_token
from shared.pages.audiences import AUDIENCES, Audience
from shared.pages.settings import PageSettings, origin

MAX_NEXT = 1000  # characters of a return address kept in a link


@dataclass(frozen=True)
class SignInToken:
    email: str
    audience: Audience
    token_id: str
    next: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def sign_in_link(settings: PageSettings, email: str, audience: Audience, next_url: str = "",
                 now: datetime | None = None) -> str:
    """The URL that signs ``email`` in to ``audience``'s pages once, within the
    configured lifetime; ``next_url`` is where the person lands afterwards."""
    token = issue_page_token(settings.secret, "sign_in", {
        "sub": email.strip().lower(), "aud": audience.name, "jti": uuid.uuid4().hex,
        "next": next_url[:MAX_NEXT]}, settings.sign_in_ttl, now)
    return settings.url(audience.service, f"{audience.path}/sign-in/link?token={quote(token)}")


def read_sign_in(settings: PageSettings, token: str, audience: Audience) -> SignInToken:
    """The token's content, expired or not (the caller decides; an expired link can still
    tell which address to send a fresh one to). AuthError when forged or for another
    audience."""
    if not token or len(token) > 4096:
        raise AuthError(401, "invalid sign_in token: missing or too long")
    claims = read_page_token(settings.secret, "sign_in", token, audience.name,
                             allow_expired=True)
    if not claims.get("jti"):
        raise AuthError(401, "invalid sign_in token: no id")
    return SignInToken(email=claims["sub"], audience=AUDIENCES[claims["aud"]],
                       token_id=str(claims["jti"])[:64], next=str(claims.get("next") or ""),
                       expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc))


def safe_next(settings: PageSettings, next_url: str | None, audience: Audience,
              own_origin: str = "") -> str:
    """Where to go after signing in: a path of the audience's pages on this origin or on
    a configured service's origin; anything else (another site, another audience) falls
    back to the audience's home page, so a crafted link cannot send people elsewhere."""
    home = f"{audience.path}/"
    if not next_url or len(next_url) > MAX_NEXT or any(c in next_url for c in "\r\n\\"):
        return home
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:
        allowed = settings.origins | ({own_origin.lower()} if own_origin else set())
        if origin(next_url) not in allowed:
            return home
    elif not next_url.startswith("/") or next_url.startswith("//"):
        return home
    if not (parts.path == audience.path or parts.path.startswith(home)):
        return home
    return next_url
