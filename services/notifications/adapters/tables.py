"""The notifications service's own tables."""
import sqlalchemy as sa

from shared.db.types import UtcDateTime

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("source_event_id", sa.String(36), nullable=False),
    sa.Column("source_event_type", sa.String(80), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("template", sa.String(80), nullable=False),
    sa.Column("proposal_id", sa.String(40), nullable=True),
    sa.Column("call_id", sa.String(80), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("message_id", sa.String(200), nullable=False),
    # queued -> sending -> sent | failed; sending with an expired lease is sent again
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    # exactly one message per (event, recipient, template), whatever the redeliveries
    sa.UniqueConstraint("source_event_id", "recipient", "template", name="uq_delivery_key"),
)
sa.Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
sa.Index("ix_deliveries_proposal", deliveries.c.proposal_id)
sa.Index("ix_deliveries_recipient", deliveries.c.recipient)
