"""The grants service's own tables."""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

# walking skeleton: proposals this service has heard of (issue 2); replaced as the
# service's real model arrives
known_proposals = sa.Table(
    "known_proposals", metadata,
    sa.Column("proposal_id", sa.String(40), primary_key=True),
    sa.Column("topic_id", sa.String(80), nullable=False),
    sa.Column("latest_version", sa.Integer(), nullable=False),
    sa.Column("versions_seen", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
