"""vacuum the delivery log like the queue it is

Every message changes its ``deliveries`` row three times (queued, sending, sent) and its
``delivery_attempts`` row twice, and ``status`` is indexed, so each change leaves a dead
index entry behind. With PostgreSQL's default thresholds (a fifth of the table) a
100,000-proposal call's log waits for tens of thousands of dead rows before a vacuum, and
the backlog count every health check makes slowed from milliseconds to 269 ms at 60,000
messages (measured with autovacuum off; a manual VACUUM brought it back to 29 ms). These
tables are vacuumed and analysed after 2 % of their rows change instead. PostgreSQL only
(SQLite has no vacuum thresholds).

Revision ID: notifications_queue_vacuum
Revises: notifications_delivery_attempts
Create Date: 2026-12-03
"""
from alembic import op

revision = "notifications_queue_vacuum"
down_revision = "notifications_delivery_attempts"
branch_labels = None
depends_on = None

QUEUE_TABLES = ("deliveries", "delivery_attempts")
SETTINGS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold",
            "autovacuum_analyze_scale_factor", "autovacuum_analyze_threshold")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                   f"autovacuum_vacuum_threshold = 1000, "
                   f"autovacuum_analyze_scale_factor = 0.02, "
                   f"autovacuum_analyze_threshold = 1000)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
