"""a partial index of the outbox rows not sent yet, for the relay's poll
(shared.messaging.tables.create_pending_index says why)

Revision ID: evaluation_outbox_pending
Revises: evaluation_open_proposals
Create Date: 2026-12-04
"""
from alembic import op

from shared.messaging.tables import create_pending_index, drop_pending_index

revision = "evaluation_outbox_pending"
down_revision = "evaluation_open_proposals"
branch_labels = None
depends_on = None


def upgrade():
    create_pending_index(op)


def downgrade():
    drop_pending_index(op)
