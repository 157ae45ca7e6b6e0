"""benchmark sink

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime
from shared.messaging.tables import create_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_tables(op)
    op.create_table(
        "received",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("received")
