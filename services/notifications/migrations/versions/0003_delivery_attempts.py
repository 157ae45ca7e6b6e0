"""delivery attempts: every SMTP attempt of a delivery, and when it was first deferred

``delivery_attempts`` records each attempt (when, which claim, outcome), so a message sent
again after an interrupted attempt is visible in the log; ``deliveries.deferred_since``
marks a message that waits for a retry (its ``notification_deferred`` event went out).

Revision ID: notifications_delivery_attempts
Revises: notifications_idempotency
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime

revision = "notifications_delivery_attempts"
down_revision = "notifications_idempotency"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True),
        sa.Column("claim_token", sa.String(36), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(12), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("after_interruption", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_delivery_attempts_open", "delivery_attempts",
                    ["delivery_id", "outcome"])
    op.add_column("deliveries", sa.Column("deferred_since", UtcDateTime(), nullable=True))


def downgrade():
    op.drop_column("deliveries", "deferred_since")
    op.drop_index("ix_delivery_attempts_open", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
