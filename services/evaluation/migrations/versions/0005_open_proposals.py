"""a partial index of the proposals whose evaluation is not completed: every completion
asks whether its topic may be ranked, and reading every row of a 40,000-proposal topic
for that made the report round grow with the square of the call

Revision ID: evaluation_open_proposals
Revises: evaluation_affinities
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "evaluation_open_proposals"
down_revision = "evaluation_affinities"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_proposals_open", "proposals", ["call_id", "topic_id"],
                    postgresql_where=sa.text("completed_at IS NULL"),
                    sqlite_where=sa.text("completed_at IS NULL"))


def downgrade():
    op.drop_index("ix_proposals_open", table_name="proposals")
