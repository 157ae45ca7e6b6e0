"""Single use of sign-in links and the bound on requests per address (SQLite here; the
integration and browser tests use PostgreSQL)."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.pages.tables import allow_request, metadata, use_token

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def _session() -> Session:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    return Session(engine)


def test_a_token_is_used_once():
    session = _session()
    assert use_token(session, "t1", "a@b.eu", NOW + timedelta(minutes=30), NOW)
    assert not use_token(session, "t1", "a@b.eu", NOW + timedelta(minutes=30), NOW)
    assert use_token(session, "t2", "a@b.eu", NOW + timedelta(minutes=30), NOW)


def test_used_tokens_are_forgotten_a_day_after_they_expired():
    session = _session()
    use_token(session, "old", "a@b.eu", NOW - timedelta(days=2), NOW - timedelta(days=2))
    use_token(session, "new", "a@b.eu", NOW + timedelta(minutes=1), NOW)
    kept = session.execute(sa.text("select token_id from sign_in_used")).scalars().all()
    assert kept == ["new"]


def test_an_address_gets_a_bounded_number_of_links_per_hour():
    session = _session()
    assert [allow_request(session, "a@b.eu", NOW + timedelta(minutes=i), 3)
            for i in range(5)] == [True, True, True, False, False]
    assert allow_request(session, "other@b.eu", NOW, 3)  # per address
    assert allow_request(session, "a@b.eu", NOW + timedelta(minutes=61), 3)  # an hour later
