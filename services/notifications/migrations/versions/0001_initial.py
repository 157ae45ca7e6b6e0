"""initial schema: messaging tables, the delivery log and what notifications remembers

Spelled out table by table (not metadata.create_all) so this revision keeps creating
version 1 of the schema whatever adapters/tables.py becomes later.

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
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dedupe_id", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("template", sa.String(80), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("source_event_id", sa.String(200), nullable=False),
        sa.Column("source_event_type", sa.String(80), nullable=False),
        sa.Column("proposal_id", sa.String(40), nullable=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("failed_at", UtcDateTime(), nullable=True),
        sa.Column("resend_of", sa.String(36), nullable=True),
        sa.Column("requested_by", sa.String(320), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("dedupe_id", "recipient", "template", name="uq_delivery_key"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_proposal", "deliveries", ["proposal_id"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient"])
    op.create_index("ix_deliveries_resend_of", "deliveries", ["resend_of"])

    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "letter_facts",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_letter_facts_call", "letter_facts", ["call_id"])
    op.create_table(
        "letter_releases",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=False),
    )

    op.create_table(
        "assignments",
        sa.Column("assigned_event_id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("proposal_id", sa.String(40), nullable=False),
        sa.Column("expert_id", sa.String(80), nullable=False),
        sa.Column("assigned_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("remind_from", UtcDateTime(), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("reminded_days", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
    )
    op.create_index("ix_assignments_open", "assignments", ["closed", "remind_from"])
    op.create_index("ix_assignments_expert", "assignments", ["proposal_id", "expert_id"])
    op.create_table(
        "assignment_ends",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("proposal_id", sa.String(40), nullable=False),
        sa.Column("expert_id", sa.String(80), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_assignment_ends_expert", "assignment_ends",
                    ["proposal_id", "expert_id"])

    op.create_table(
        "seen_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_seen_events_call", "seen_events", ["call_id", "occurred_at"])
    op.create_table(
        "digests",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("made_at", UtcDateTime(), nullable=False),
    )


def downgrade():
    for table in ("digests", "seen_events", "assignment_ends", "assignments",
                  "letter_releases", "letter_facts", "calls", "deliveries",
                  "processed_events", "outbox"):
        op.drop_table(table)
