"""The delivery log's tables are vacuumed like queues on PostgreSQL (migration 0004), and
the migration goes down and up again; the delivery timer's claim and the backlog count do
not walk the messages already sent (migration 0006)."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters.tables import deliveries
from services.notifications.domain.delivery import QUEUED, SENDING, SENT
from shared.db.engine import create_service_engine
from shared.db.migrations import alembic_config, upgrade_to_head
from tests.support.plans import heap_pages, pages_once_met, selects_of

SCRIPTS = "services.notifications:migrations"

WANTED = {"autovacuum_vacuum_scale_factor=0.02", "autovacuum_vacuum_threshold=1000",
          "autovacuum_analyze_scale_factor=0.02", "autovacuum_analyze_threshold=1000"}


def reloptions(engine) -> dict:
    with engine.connect() as conn:
        return {name: set(options or ()) for name, options in conn.execute(sa.text(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN "
            "('deliveries', 'delivery_attempts', 'outbox')"))}


def test_the_delivery_log_is_vacuumed_after_two_percent_of_its_rows_change(databases):
    engine = create_service_engine(databases.url("notifications"), pool_size=1, max_overflow=0)
    try:
        upgrade_to_head(engine, SCRIPTS)
        assert reloptions(engine) == {"deliveries": WANTED, "delivery_attempts": WANTED,
                                      "outbox": set()}

        with engine.begin() as connection:
            command.downgrade(alembic_config(SCRIPTS, connection),
                              "notifications_delivery_attempts")
        assert reloptions(engine) == {"deliveries": set(), "delivery_attempts": set(),
                                      "outbox": set()}
        upgrade_to_head(engine, SCRIPTS)
        assert reloptions(engine)["deliveries"] == WANTED
    finally:
        engine.dispose()


MESSAGES = 3000


def _sent_messages(engine) -> None:
    """MESSAGES messages that went queued, sending, sent in batches of 50, as the timer sends
    them: each step leaves dead index entries behind (no vacuum runs here)."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(deliveries.insert(), [dict(
            id=f"d-{n:06d}", dedupe_id=f"e-{n}", recipient=f"r{n}@example.org",
            template="submission_receipt", role="applicant", source_event_id=f"e-{n}",
            source_event_type="proposal_submitted", proposal_id=f"P-{n}", call_id="C",
            context={}, subject="s", body="b" * 300, message_id=f"<{n}@grantflow>",
            status=QUEUED, attempts=0, next_attempt_at=now - timedelta(minutes=1),
            created_at=now) for n in range(MESSAGES)])
    for start in range(0, MESSAGES, 50):
        batch = [f"d-{n:06d}" for n in range(start, start + 50)]
        for values in (dict(status=SENDING, lease_until=now + timedelta(minutes=1)),
                       dict(status=SENT, sent_at=now, lease_until=None)):
            with engine.begin() as conn:
                conn.execute(deliveries.update().where(deliveries.c.id.in_(batch))
                             .values(**values))


def test_the_claim_and_backlog_do_not_walk_the_messages_already_sent(databases):
    engine = create_service_engine(databases.url("notifications"), pool_size=1, max_overflow=0)

    def poll():
        with Session(engine) as session, session.begin():
            claimed = log.claim_due(session, datetime.now(timezone.utc), 50,
                                    timedelta(seconds=30), "token")
        with Session(engine) as session:
            return claimed, log.backlog(session, datetime.now(timezone.utc))

    try:
        upgrade_to_head(engine, SCRIPTS)
        _sent_messages(engine)
        assert poll() == ([], {"queued": 0, "sending": 0, "deferred": 0})

        polled = selects_of(engine, poll)
        assert [s.split()[0] for s, _ in polled] == ["SET", "SELECT", "SELECT", "SET", "SELECT"]
        assert heap_pages(engine, "deliveries") > 200
        assert pages_once_met(engine, poll, below=60) < 60  # 379 (the heap) before
    finally:
        engine.dispose()
