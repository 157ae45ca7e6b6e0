"""initial schema: messaging tables, calls, proposals and their versions, parts, the
closing manifests and the timetable

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
        "calls",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.Column("loaded_by", sa.String(320), nullable=False),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("frozen_version", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.Column("withdraw_reason", sa.Text(), nullable=True),
        sa.Column("screening", sa.JSON(), nullable=True),
        sa.Column("screened_at", UtcDateTime(), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_proposals_topic", "proposals", ["call_id", "topic_id", "state"])
    op.create_table(
        "proposal_contacts",
        sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id"),
                  primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
    )
    op.create_index("ix_proposal_contacts_email", "proposal_contacts", ["email"])
    op.create_table(
        "proposal_versions",
        sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id"),
                  primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
    )
    op.create_table(
        "parts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "closed_topics",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), primary_key=True),
        sa.Column("call_version", sa.Integer(), nullable=False),
        sa.Column("deadline", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_hash", sa.String(64), nullable=False),
        sa.Column("screened_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "fired_milestones",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("milestone", sa.String(120), primary_key=True),
        sa.Column("stage", sa.String(120), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("call_version", sa.Integer(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "rankings",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), primary_key=True),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )


def downgrade():
    for table in ("rankings", "fired_milestones", "closed_topics", "parts",
                  "proposal_versions", "proposal_contacts", "proposals", "calls",
                  "processed_events", "outbox"):
        op.drop_table(table)
