"""the queue is claimed in the order (fell due, causing event, id), so that the messages one
event caused (the contacts of a proposal, told of its receipt or result) go in one group and
their deliveries are published as one notifications_delivered event

Messages queued together share their ``next_attempt_at``; ordered by id (a hash of the
message's key) the contacts of a proposal were spread over the whole instant's queue, and a
group of ten held as many causes as messages. The partial index keeps the claim a plain
index scan in its own order (migration 0006).

Revision ID: notifications_queue_by_cause
Revises: notifications_outbox_routing_key
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "notifications_queue_by_cause"
down_revision = "notifications_outbox_routing_key"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")


def upgrade():
    op.create_index("ix_deliveries_queued_by_cause", "deliveries",
                    ["next_attempt_at", "source_event_id", "id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.drop_index("ix_deliveries_queued", table_name="deliveries")


def downgrade():
    op.create_index("ix_deliveries_queued", "deliveries", ["next_attempt_at", "id"],
                    postgresql_where=QUEUED, sqlite_where=QUEUED)
    op.drop_index("ix_deliveries_queued_by_cause", table_name="deliveries")
