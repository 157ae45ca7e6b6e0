"""Bearer tokens: HS256-signed JWTs carrying who the caller is and in which role.

Roles: ``applicant`` (sees and changes proposals on which their email is a contact),
``evaluator`` (their own assignments and reports), ``operations`` (everything).
Development tokens are issued with ``grantflow token issue --role R --email E`` using the
secret in the deployment's configuration (``AUTH_SECRET``); production would put a real
identity provider in front and keep the same claims.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

ROLES = ("applicant", "evaluator", "operations")
DEFAULT_DEV_SECRET = "grantflow-development-secret-change-me"


@dataclass(frozen=True)
class Principal:
    email: str
    role: str

    @property
    def is_operations(self) -> bool:
        return self.role == "operations"


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def issue_token(secret: str, email: str, role: str, ttl: timedelta = timedelta(days=30),
                now: datetime | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    now = now or datetime.now(timezone.utc)
    return jwt.encode({"sub": email.lower(), "role": role, "iat": int(now.timestamp()),
                       "exp": int((now + ttl).timestamp())}, secret, algorithm="HS256")


def authenticate(secret: str, authorization: str | None) -> Principal:
    """Parse an ``Authorization: Bearer ...`` header; 401 when missing or invalid."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError(401, "missing bearer token (Authorization: Bearer <token>)")
    try:
        claims = jwt.decode(authorization[len("Bearer "):].strip(), secret,
                            algorithms=["HS256"], options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, f"invalid token: {exc}") from None
    if claims["role"] not in ROLES:
        raise AuthError(401, f"invalid token: unknown role {claims['role']!r}")
    return Principal(email=claims["sub"], role=claims["role"])


# --------------------------------------------------------------------------- page tokens
# People's pages (shared/pages) use two more kinds of token: the single-use sign-in link
# mailed to a person, and the browser session cookie it is exchanged for. Each kind is
# signed with its own key derived from the deployment's secret, so one kind can never be
# accepted as another: a session cookie or a sign-in link is not a bearer token (and a
# bearer token is not a session), whatever claims it carries.
PAGE_TOKEN_KINDS = ("sign_in", "session")


def _kind_key(secret: str, kind: str) -> bytes:
    if kind not in PAGE_TOKEN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PAGE_TOKEN_KINDS)}, not {kind!r}")
    return hmac.new(secret.encode("utf-8"), f"grantflow/{kind}".encode("ascii"),
                    hashlib.sha256).digest()


def issue_page_token(secret: str, kind: str, claims: dict, ttl: timedelta,
                     now: datetime | None = None) -> str:
    """A token of ``kind`` carrying ``claims`` (``sub`` and ``aud`` at least), valid for
    ``ttl`` from ``now`` (the wall clock: lifetimes of credentials are about real time)."""
    now = now or datetime.now(timezone.utc)
    return jwt.encode({**claims, "kind": kind, "iat": int(now.timestamp()),
                       "exp": int((now + ttl).timestamp())},
                      _kind_key(secret, kind), algorithm="HS256")


def read_page_token(secret: str, kind: str, token: str, audience: str,
                    allow_expired: bool = False) -> dict:
    """The claims of a token of ``kind`` for ``audience``; AuthError(401) when forged, of
    another kind or audience, or expired (unless ``allow_expired``: then the caller reads
    ``exp`` itself, e.g. to offer a fresh sign-in link to the address an old one named)."""
    try:
        claims = jwt.decode(token, _kind_key(secret, kind), algorithms=["HS256"],
                            audience=audience,
                            options={"require": ["sub", "aud", "exp", "kind"],
                                     "verify_exp": not allow_expired})
    except jwt.ExpiredSignatureError:
        raise AuthError(401, f"{kind} token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, f"invalid {kind} token: {exc}") from None
    if claims["kind"] != kind:
        raise AuthError(401, f"invalid {kind} token: kind {claims['kind']!r}")
    return claims
