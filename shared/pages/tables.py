"""The two tables a signing service (submission, evaluation) keeps for its sign-ins:
which link tokens were used (single use), and when each address asked for a link (a
bound on mail per address). Each service's ``0002_pages`` migration creates them with
:func:`create_tables`."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

sign_in_used = sa.Table(
    "sign_in_used", metadata,
    sa.Column("token_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("used_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

sign_in_requests = sa.Table(
    "sign_in_requests", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_sign_in_requests_email", sign_in_requests.c.email, sign_in_requests.c.requested_at)


def create_tables(op) -> None:
    """Spelled out (not ``create_all``) so the migration keeps creating this version."""
    op.create_table(
        "sign_in_used",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "sign_in_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sign_in_requests_email", "sign_in_requests", ["email", "requested_at"])


def drop_tables(op) -> None:
    op.drop_index("ix_sign_in_requests_email", "sign_in_requests")
    op.drop_table("sign_in_requests")
    op.drop_table("sign_in_used")


def use_token(session, token_id: str, email: str, expires_at: datetime, now: datetime) -> bool:
    """Record the token as used; False if it already was (in this transaction's view:
    two concurrent uses collide on the primary key and one of them fails to commit).
    Rows of tokens expired for a day are dropped: they can never be accepted again."""
    session.execute(sign_in_used.delete().where(
        sign_in_used.c.expires_at < now - timedelta(days=1)))
    if session.execute(sa.select(sign_in_used.c.token_id).where(
            sign_in_used.c.token_id == token_id)).first() is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(sign_in_used.insert().values(
                token_id=token_id, email=email, used_at=now, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


def allow_request(session, email: str, now: datetime, per_hour: int) -> bool:
    """Count a request for a link to ``email``; False (and nothing recorded) once the
    address had ``per_hour`` requests in the last hour. Old rows are dropped."""
    hour_ago = now - timedelta(hours=1)
    session.execute(sign_in_requests.delete().where(sign_in_requests.c.requested_at < hour_ago))
    recent = session.execute(sa.select(sa.func.count()).select_from(sign_in_requests).where(
        sign_in_requests.c.email == email, sign_in_requests.c.requested_at >= hour_ago)).scalar()
    if recent >= per_hour:
        return False
    session.execute(sign_in_requests.insert().values(email=email, requested_at=now))
    return True
