"""initial schema: messaging tables and proposals

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
from alembic import op

from services.submission.adapters.tables import metadata
from shared.messaging.tables import create_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_tables(op)
    metadata.create_all(bind=op.get_bind())


def downgrade():
    metadata.drop_all(bind=op.get_bind())
