"""people's pages: used sign-in links, sign-in requests, and which experts may download
which proposal's parts

Revision ID: submission_pages
Revises: submission_idempotency
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime
from shared.pages.tables import create_tables, drop_tables

revision = "submission_pages"
down_revision = "submission_idempotency"
branch_labels = None
depends_on = None


def upgrade():
    create_tables(op)
    op.create_table(
        "evaluator_access",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("expert_id", sa.String(80), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("evaluator_access")
    drop_tables(op)
