"""partial indexes for the delivery timer's claim, and the log's listing order

Each message's row goes queued, sending, sent, and ``ix_deliveries_due`` (status,
next_attempt_at) keeps a dead entry for each step until a vacuum. The claim, several times
a second, went through all of them: at the end of a 10,000-proposal call on a cluster
without autovacuum (178,000 messages sent, nothing due) one claim took 860 ms as a bitmap
scan. ``ix_deliveries_queued`` and ``ix_deliveries_sending`` hold only rows in those states;
the claim reads each in its own order with a plain index scan, which marks a dead entry the
first time it meets it and skips it afterwards (0.03 ms on the same table).
``ix_deliveries_listed`` serves the operations API's listing (created_at, id), which sorted
the whole log for every page.

Revision ID: notifications_queue_indexes
Revises: notifications_outbox_pending
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "notifications_queue_indexes"
down_revision = "notifications_outbox_pending"
branch_labels = None
depends_on = None

QUEUED, SENDING = sa.text("status = 'queued'"), sa.text("status = 'sending'")


def upgrade():
    op.create_index("ix_deliveries_queued", "deliveries", ["next_attempt_at", "id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.create_index("ix_deliveries_sending", "deliveries", ["lease_until"],
                    postgresql_where=SENDING, sqlite_where=SENDING)
    op.create_index("ix_deliveries_listed", "deliveries", ["created_at", "id"])


def downgrade():
    for name in ("ix_deliveries_listed", "ix_deliveries_sending", "ix_deliveries_queued"):
        op.drop_index(name, table_name="deliveries")
