"""initial schema: messaging tables, calls and stages, topics and proposals, the expert
pool, assignments, declarations, reports, the pool revision and assignment runs

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
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "stages",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("stage", sa.String(60), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "topics",
        sa.Column("call_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), primary_key=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("manifest_hash", sa.String(80), nullable=True),
        sa.Column("assignment_status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("assignment_message", sa.JSON(), nullable=True),
        sa.Column("assignment_attempt_revision", sa.Integer(), nullable=True),
        sa.Column("assigned_at", UtcDateTime(), nullable=True),
        sa.Column("ranked_at", UtcDateTime(), nullable=True),
        sa.Column("ranking", sa.JSON(), nullable=True),
    )
    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("in_manifest", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=True),
        sa.Column("screened", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("eligible", sa.Boolean(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("contact_emails", sa.JSON(), nullable=True),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.Column("target_evaluators", sa.Integer(), nullable=True),
        sa.Column("repair_attempt_revision", sa.Integer(), nullable=True),
        sa.Column("repair_message", sa.JSON(), nullable=True),
        sa.Column("rapporteur_id", sa.String(80), nullable=True),
        sa.Column("consensus_note", sa.JSON(), nullable=True),
        sa.Column("consensus", sa.JSON(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
    )
    op.create_index("ix_proposals_topic", "proposals", ["call_id", "topic_id"])
    op.create_table(
        "experts",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("organisation_id", sa.String(120), nullable=False),
        sa.Column("expertise_areas", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("max_load", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("expert_id", sa.String(80), primary_key=True),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("assigned_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("release_reason", sa.String(30), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_assignments_expert", "assignments", ["expert_id", "status"])
    op.create_table(
        "declarations",
        sa.Column("expert_id", sa.String(80), primary_key=True),
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_by", sa.String(320), nullable=False),
        sa.Column("declared_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("expert_id", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(12), primary_key=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finalised_at", UtcDateTime(), nullable=True),
    )
    revision_table = op.create_table(
        "pool_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 0}])
    op.create_table(
        "assignment_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("diagnosis", sa.JSON(), nullable=False),
        sa.Column("objective", sa.BigInteger(), nullable=True),
        sa.Column("gap", sa.Float(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("triggered_by", sa.String(320), nullable=False),
    )
    op.create_index("ix_assignment_runs_started", "assignment_runs", ["started_at"])


def downgrade():
    for table in ("assignment_runs", "pool_revision", "reports", "declarations", "assignments",
                  "experts", "proposals", "topics", "stages", "calls", "processed_events",
                  "outbox"):
        op.drop_table(table)
