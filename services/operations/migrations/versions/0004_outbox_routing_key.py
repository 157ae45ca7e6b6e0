"""the outbox keeps each event's routing key, qualified for an event routed by a payload
field (shared.events.base.Event.routed_by), so that a consumer may bind to one kind of it

Revision ID: operations_outbox_routing_key
Revises: operations_outbox_pending
Create Date: 2026-12-05
"""
from alembic import op

from shared.messaging.tables import add_routing_key, drop_routing_key

revision = "operations_outbox_routing_key"
down_revision = "operations_outbox_pending"
branch_labels = None
depends_on = None


def upgrade():
    add_routing_key(op)


def downgrade():
    drop_routing_key(op)
