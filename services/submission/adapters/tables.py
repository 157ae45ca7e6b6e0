"""The submission service's own tables (SQLAlchemy Core)."""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

proposals = sa.Table(
    "proposals", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("owner_email", sa.String(320), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

proposal_versions = sa.Table(
    "proposal_versions", metadata,
    sa.Column("proposal_id", sa.String(40), sa.ForeignKey("proposals.id"), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
)
