"""imported affinity scores: operations' scores (OpenReview, TPMS, ...) that take the
place of the TF-IDF similarity of their (expert, proposal) pairs

Revision ID: evaluation_affinities
Revises: evaluation_pages
Create Date: 2026-12-14
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime

revision = "evaluation_affinities"
down_revision = "evaluation_pages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "imported_affinities",
        sa.Column("proposal_id", sa.String(40), primary_key=True),
        sa.Column("expert_id", sa.String(80), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(320), nullable=False),
    )


def downgrade():
    op.drop_table("imported_affinities")
