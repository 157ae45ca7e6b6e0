"""people's pages: used sign-in links and sign-in requests of the evaluators' pages

Revision ID: evaluation_pages
Revises: evaluation_idempotency
Create Date: 2026-12-03
"""
from alembic import op

from shared.pages.tables import create_tables, drop_tables

revision = "evaluation_pages"
down_revision = "evaluation_idempotency"
branch_labels = None
depends_on = None


def upgrade():
    create_tables(op)


def downgrade():
    drop_tables(op)
