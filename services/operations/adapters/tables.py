"""The operations service's own tables: an audit log of every event, kept in order."""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

timeline = sa.Table(
    "timeline", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("producer", sa.String(40), nullable=False),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("correlation_id", sa.String(120), nullable=False),
    sa.Column("proposal_id", sa.String(40), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
)
sa.Index("ix_timeline_proposal", timeline.c.proposal_id, timeline.c.occurred_at)
sa.Index("ix_timeline_call", timeline.c.call_id, timeline.c.occurred_at)

# events received per type: a plain counter, so a second processing of one event would show
# (the crash-safety tests rely on this to prove the consumer's idempotency)
event_counts = sa.Table(
    "event_counts", metadata,
    sa.Column("call_id", sa.String(80), primary_key=True),
    sa.Column("event_type", sa.String(80), primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
)
