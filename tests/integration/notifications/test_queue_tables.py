"""The delivery log's tables are vacuumed like queues on PostgreSQL (migration 0004), and
the migration goes down and up again."""
import sqlalchemy as sa
from alembic import command

from shared.db.engine import create_service_engine
from shared.db.migrations import alembic_config, upgrade_to_head

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
