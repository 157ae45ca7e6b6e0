"""The outbox relay's poll stays cheap however many rows it has sent: publishing a row
leaves a dead index entry behind until a vacuum (this machine's cluster runs without
autovacuum), and the poll must not visit them all each time (migration *_outbox_pending)."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from shared.db.engine import create_service_engine
from shared.db.migrations import alembic_config, upgrade_to_head
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import outbox
from tests.support.plans import heap_pages, pages_once_met, selects_of

pytestmark = pytest.mark.integration

SCRIPTS = "services.submission:migrations"
SENT = 4000


def _sent_rows(engine) -> None:
    """SENT rows written and then marked sent one batch at a time, as the relay does."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(outbox.insert(), [dict(
            event_id=f"00000000-0000-4000-8000-{n:012d}", event_type="proposal_submitted",
            exchange="submission.events", payload="{}" + " " * 400, correlation_id=f"P-{n}",
            created_at=now) for n in range(SENT)])
    for start in range(0, SENT, 500):
        with engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id.in_(
                sa.select(outbox.c.id).where(outbox.c.sent_at.is_(None))
                .order_by(outbox.c.id).limit(500).scalar_subquery()))
                .values(sent_at=now))


def test_the_relays_poll_does_not_walk_the_rows_it_has_sent(databases, vhost):
    engine = create_service_engine(databases.url("submission"), pool_size=1, max_overflow=0)
    relay = OutboxRelay(engine, vhost.amqp_uri, "submission")
    try:
        upgrade_to_head(engine, SCRIPTS)
        _sent_rows(engine)
        assert relay.relay_once() == 0
        assert relay.backlog() == (0, None)

        def poll():
            return relay.relay_once(), relay.backlog()

        polled = selects_of(engine, poll)
        assert [s.split()[0] for s, _ in polled] == ["SET", "SELECT", "SET", "SELECT"]
        assert heap_pages(engine, "outbox") > 200
        assert pages_once_met(engine, poll, below=60) < 60  # 558 (every heap page) before

        with engine.begin() as connection:  # the migration goes down and up again
            command.downgrade(alembic_config(SCRIPTS, connection), "submission_partners_qa")
        upgrade_to_head(engine, SCRIPTS)
    finally:
        relay.publisher.close()
        engine.dispose()
