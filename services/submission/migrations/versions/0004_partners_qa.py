"""partner search and questions and answers per topic

Revision ID: submission_partners_qa
Revises: submission_pages
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime

revision = "submission_partners_qa"
down_revision = "submission_pages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "partner_profiles",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("organisation_name", sa.String(300), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("entity_type", sa.String(80), nullable=False),
        sa.Column("experience", sa.Text(), nullable=False),
        sa.Column("looking_for", sa.Text(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("call_id", "topic_id", "owner", name="uq_partner_profiles_owner"),
    )
    op.create_index("ix_partner_profiles_topic", "partner_profiles",
                    ["call_id", "topic_id", "state"])
    op.create_table(
        "partner_profile_areas",
        sa.Column("profile_id", sa.String(40), sa.ForeignKey("partner_profiles.id"),
                  primary_key=True),
        sa.Column("area", sa.String(80), primary_key=True),
    )
    op.create_index("ix_partner_profile_areas_area", "partner_profile_areas", ["area"])
    op.create_table(
        "questions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(80), nullable=False),
        sa.Column("topic_id", sa.String(80), nullable=False),
        sa.Column("asked_by", sa.String(320), nullable=False),
        sa.Column("asked_by_operations", sa.Boolean(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(320), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("revised_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_questions_topic", "questions", ["call_id", "topic_id", "state"])
    op.create_index("ix_questions_asker", "questions", ["asked_by", "call_id"])


def downgrade():
    for table in ("questions", "partner_profile_areas", "partner_profiles"):
        op.drop_table(table)
