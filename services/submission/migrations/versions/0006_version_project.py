"""the two fields of a version's content that make its project, in columns of their own
(screening reads them for the whole call; out of the JSON that took seconds at 100,000
proposals). Versions stored before stay NULL there and are read from their content.

Revision ID: submission_version_project
Revises: submission_outbox_pending
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "submission_version_project"
down_revision = "submission_outbox_pending"
branch_labels = None
depends_on = None


def upgrade():
    # nullable, no default: adding them rewrites no row, whatever the table's size
    op.add_column("proposal_versions",
                  sa.Column("coordinator_organisation_id", sa.Text(), nullable=True))
    op.add_column("proposal_versions", sa.Column("acronym", sa.Text(), nullable=True))


def downgrade():
    # SQLite drops a column only by copying the table: batch mode does that
    with op.batch_alter_table("proposal_versions") as table:
        table.drop_column("acronym")
        table.drop_column("coordinator_organisation_id")
