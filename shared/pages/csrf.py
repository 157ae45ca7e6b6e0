"""CSRF tokens for every form: a signed double submit bound to the session.

Each browser gets a random key in a cookie (``gf_csrf``: HttpOnly, SameSite=Strict,
``Path=/`` so every service's forms can use it); a form carries HMAC(key, browser key,
session id). A cross-site page can neither read the cookie nor compute the token, and a
token stops working when the person signs out or in again. The HMAC key is derived from
the shared secret, so a form rendered by one service is accepted by another (sign-out).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

COOKIE = "gf_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def new_browser_key() -> str:
    return secrets.token_urlsafe(24)


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"grantflow/csrf", hashlib.sha256).digest()


def csrf_token(secret: str, browser_key: str, session_id: str = "") -> str:
    mac = hmac.new(_key(secret), f"{browser_key}|{session_id}".encode("utf-8"),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def valid(secret: str, browser_key: str | None, session_id: str, token: str | None) -> bool:
    if not browser_key or not token or len(token) > 100 or len(browser_key) > 100:
        return False
    return hmac.compare_digest(csrf_token(secret, browser_key, session_id), token)
