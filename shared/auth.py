"""Bearer tokens: HS256-signed JWTs carrying who the caller is and in which role.

Roles: ``applicant`` (sees and changes proposals on which their email is a contact),
``evaluator`` (their own assignments and reports), ``operations`` (everything).
Development tokens are issued with ``grantflow token issue --role R --email E`` using the
secret in the deployment's configuration (``AUTH_SECRET``); production would put a real
identity provider in front and keep the same claims.
"""
from __future__ import annotations

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
