"""Bearer tokens: HS256-signed JWTs carrying who the caller is and in which role.

Roles: ``applicant`` (sees and changes proposals on which their email is a contact),
``evaluator`` (their own assignments and reports), ``operations`` (everything).
Development tokens are issued with ``grantflow token issue --role R --email E`` using the
secret in the deployment's configuration (``AUTH_SECRET``); production would put a real
identity provider in front and keep the same claims.

Every token names its issuer (``iss``) and audience (``aud``), both checked, and may live
at most its role's maximum lifetime (``exp - iat``), so a leaked operations token is not
good for a month. The secret itself is checked when a service starts
(:func:`check_secret`): the public development default, an empty secret or one shorter
than :data:`MIN_SECRET_BYTES` is refused unless the deployment says ``ENV=development``.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import jwt

ROLES = ("applicant", "evaluator", "operations")
DEFAULT_DEV_SECRET = "grantflow-development-secret-change-me"
#: HS256 wants a key at least as long as its hash (RFC 7518, section 3.2)
MIN_SECRET_BYTES = 32
ISSUER = "grantflow"
AUDIENCE = "grantflow-api"
#: the longest a token of each role may live (``GRANTFLOW_TOKEN_MAX_HOURS`` changes them)
MAX_LIFETIMES = {"applicant": timedelta(days=30), "evaluator": timedelta(days=30),
                 "operations": timedelta(hours=24)}


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


class SecretRefused(Exception):
    """The deployment's secret may not be used (the message names the variable and rule)."""


@dataclass(frozen=True)
class TokenPolicy:
    """What a service accepts: who issued the token, for whom, and how long it may live."""

    issuer: str = ISSUER
    audience: str = AUDIENCE
    max_lifetimes: dict = field(default_factory=lambda: dict(MAX_LIFETIMES))

    @classmethod
    def from_config(cls, config: dict) -> "TokenPolicy":
        tokens = config.get("TOKENS") or {}
        hours = tokens.get("max_hours") or {}
        lifetimes = {**MAX_LIFETIMES,
                     **{role: timedelta(hours=float(h)) for role, h in hours.items()}}
        return cls(tokens.get("issuer") or ISSUER, tokens.get("audience") or AUDIENCE,
                   lifetimes)


DEFAULT_POLICY = TokenPolicy()


def check_secret(secret: str | None, environment: str | None) -> str:
    """The secret a service may sign and check tokens with, or :class:`SecretRefused`.

    Outside ``ENV=development`` the secret must be set, be at least
    :data:`MIN_SECRET_BYTES` long and not be the public development default. In
    development an unset secret means the default."""
    development = environment == "development"
    if not secret:
        if development:
            return DEFAULT_DEV_SECRET
        raise SecretRefused(
            "GRANTFLOW_AUTH_SECRET is empty: set it to a random string of at least "
            f"{MIN_SECRET_BYTES} bytes (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`), or set GRANTFLOW_ENV=development to use "
            "the public development secret")
    if development:
        return secret
    if secret == DEFAULT_DEV_SECRET:
        raise SecretRefused(
            "GRANTFLOW_AUTH_SECRET is the public development secret, which anyone can use to "
            "forge tokens: set a random secret of at least "
            f"{MIN_SECRET_BYTES} bytes, or GRANTFLOW_ENV=development for a development stack")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise SecretRefused(
            f"GRANTFLOW_AUTH_SECRET is {len(secret.encode('utf-8'))} bytes long: it must be at "
            f"least {MIN_SECRET_BYTES} bytes (or GRANTFLOW_ENV=development)")
    return secret


def issue_token(secret: str, email: str, role: str, ttl: timedelta | None = None,
                now: datetime | None = None, policy: TokenPolicy = DEFAULT_POLICY) -> str:
    """A token for ``email`` in ``role`` living ``ttl`` (default and maximum: the role's
    maximum lifetime)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    longest = policy.max_lifetimes[role]
    ttl = longest if ttl is None else ttl
    if not timedelta(0) < ttl <= longest:
        raise ValueError(f"a {role} token may live at most {_hours(longest)}, not {_hours(ttl)}")
    now = now or datetime.now(timezone.utc)
    return jwt.encode({"sub": email.lower(), "role": role, "iss": policy.issuer,
                       "aud": policy.audience, "iat": int(now.timestamp()),
                       "exp": int((now + ttl).timestamp())}, secret, algorithm="HS256")


def decode_claims(secret: str, token: str, policy: TokenPolicy = DEFAULT_POLICY) -> dict:
    """The checked claims of ``token`` (signature, expiry, issuer, audience), or
    ``jwt.InvalidTokenError``."""
    return jwt.decode(token, secret, algorithms=["HS256"], issuer=policy.issuer,
                      audience=policy.audience,
                      options={"require": ["sub", "role", "exp", "iat", "iss", "aud"]})


def authenticate(secret: str, authorization: str | None,
                 policy: TokenPolicy = DEFAULT_POLICY) -> Principal:
    """Parse an ``Authorization: Bearer ...`` header; 401 when missing or invalid."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError(401, "missing bearer token (Authorization: Bearer <token>)")
    try:
        claims = decode_claims(secret, authorization[len("Bearer "):].strip(), policy)
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(401, f"invalid token: {exc}") from None
    role = claims["role"]
    if role not in ROLES:
        raise AuthError(401, "invalid token: unknown role")
    if not isinstance(claims["sub"], str) or not isinstance(claims["iat"], (int, float)):
        raise AuthError(401, "invalid token: malformed sub or iat")
    lifetime = timedelta(seconds=claims["exp"] - claims["iat"])
    if lifetime > policy.max_lifetimes[role]:
        raise AuthError(401, f"invalid token: a {role} token may live at most "
                             f"{_hours(policy.max_lifetimes[role])}")
    return Principal(email=claims["sub"], role=role)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} hours"


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
