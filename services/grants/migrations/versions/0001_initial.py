"""initial schema: messaging tables, calls, rankings (topic ledgers), grant files, payment
orders and the time-to-inform / time-to-grant facts

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


def upgrade():
    create_tables(op)
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "stages_reached",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("stage", sa.String(80), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "topic_ledgers",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), primary_key=True),
        sa.Column("ranking_event_id", sa.String(36), nullable=False),
        sa.Column("ranked_at", UtcDateTime(), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("amounts", sa.JSON(), nullable=True),
        sa.Column("committed", sa.JSON(), nullable=True),
        sa.Column("released", sa.JSON(), nullable=True),
        sa.Column("promoted", sa.JSON(), nullable=True),
        sa.Column("dropped", sa.JSON(), nullable=True),
        sa.Column("main_invited", sa.Boolean(), nullable=False),
        sa.Column("invited_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "grant_files",
        sa.Column("grant_id", sa.String(60), primary_key=True),
        sa.Column("proposal_id", sa.String(40), nullable=False, unique=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("acronym", sa.String(120), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("requested_grant", Money(), nullable=False),
        sa.Column("total_eligible_costs", Money(), nullable=False),
        sa.Column("max_grant", Money(), nullable=False),
        sa.Column("prefinancing_rate", sa.String(20), nullable=False),
        sa.Column("duration_months", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("beneficiaries", sa.JSON(), nullable=False),
        sa.Column("coordinator_email", sa.String(320), nullable=False),
        sa.Column("contact_emails", sa.JSON(), nullable=False),
        sa.Column("authority_email", sa.String(320), nullable=False),
        sa.Column("invited_at", UtcDateTime(), nullable=False),
        sa.Column("preparation_deadline", UtcDateTime(), nullable=False),
        sa.Column("signature_deadline", UtcDateTime(), nullable=False),
        sa.Column("promoted_from_reserve", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("data_confirmed_at", UtcDateTime(), nullable=True),
        sa.Column("coordinator_signed_at", UtcDateTime(), nullable=True),
        sa.Column("authority_signed_at", UtcDateTime(), nullable=True),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(40), nullable=True),
        sa.Column("decline_note", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_grant_files_topic_state", "grant_files", ["topic_id", "state"])
    op.create_index("ix_grant_files_state", "grant_files", ["state"])
    op.create_table(
        "grant_contacts",
        sa.Column("grant_id", sa.String(60), primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
    )
    op.create_index("ix_grant_contacts_email", "grant_contacts", ["email"])
    op.create_table(
        "payment_orders",
        sa.Column("grant_id", sa.String(60), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("ordered_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "proposal_clocks",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("informed_at", UtcDateTime(), nullable=True),
        sa.Column("signed_at", UtcDateTime(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("grant_expected", sa.Boolean(), nullable=False),
        sa.Column("tti_breached", sa.Boolean(), nullable=False),
        sa.Column("ttg_breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_proposal_clocks_call", "proposal_clocks", ["call_id"])


def downgrade():
    for table in ("proposal_clocks", "payment_orders", "grant_contacts", "grant_files",
                  "topic_ledgers", "stages_reached", "calls", "processed_events", "outbox"):
        op.drop_table(table)
