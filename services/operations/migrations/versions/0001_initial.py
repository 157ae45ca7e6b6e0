"""initial schema: messaging tables, the event timeline and the operations projections

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import Money, UtcDateTime
from shared.messaging.tables import create_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("notification_counts", "assignments", "topics", "calls", "proposals",
          "proposal_events", "event_counts", "timeline")


def upgrade():
    create_tables(op)
    op.create_table(
        "timeline",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("producer", sa.String(40), nullable=False),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("correlation_id", sa.String(120), nullable=False),
        sa.Column("proposal_id", sa.String(40), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_timeline_proposal", "timeline", ["proposal_id", "occurred_at"])
    op.create_index("ix_timeline_call", "timeline", ["call_id", "occurred_at"])
    op.create_table(
        "event_counts",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("event_type", sa.String(80), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "proposal_events",
        sa.Column("proposal_id", sa.String(80), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("causation_id", sa.String(36), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
    )
    op.create_index("ix_proposal_events_call", "proposal_events", ["call_id", "proposal_id"])
    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.String(80), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=True),
        sa.Column("acronym", sa.String(200), nullable=True),
        sa.Column("state", sa.String(40), nullable=True),
        sa.Column("final_state", sa.String(40), nullable=True),
        sa.Column("list", sa.String(20), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("ranking_amount", Money(), nullable=True),
        sa.Column("signed_amount", Money(), nullable=True),
        sa.Column("view", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_proposals_call_topic", "proposals", ["call_id", "topic_id"])
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(400), nullable=True),
        sa.Column("call", sa.JSON(), nullable=True),
        sa.Column("reached", sa.JSON(), nullable=False),
    )
    op.create_table(
        "topics",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), primary_key=True),
        sa.Column("budget", Money(), nullable=True),
        sa.Column("funded_total", Money(), nullable=True),
        sa.Column("ranking_event_id", sa.String(36), nullable=True),
        sa.Column("ranking_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "assignments",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("expert_id", sa.String(80), primary_key=True),
        sa.Column("proposal_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), nullable=True),
        sa.Column("expert_name", sa.String(200), nullable=False),
        sa.Column("expert_email", sa.String(320), nullable=False),
        sa.Column("assigned_at", UtcDateTime(), nullable=True),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("report_final", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "notification_counts",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("template", sa.String(80), primary_key=True),
        sa.Column("outcome", sa.String(20), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade():
    for table in TABLES:
        op.drop_table(table)
    op.drop_table("processed_events")
    op.drop_table("outbox")
