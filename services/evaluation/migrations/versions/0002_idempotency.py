"""idempotency keys: each state-changing request's Idempotency-Key and its first response
(shared/idempotency.py)

Revision ID: evaluation_idempotency
Revises: 0001
Create Date: 2026-12-10
"""
from alembic import op

from shared.idempotency import create_table

revision = "evaluation_idempotency"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    create_table(op)


def downgrade():
    op.drop_table("idempotency_keys")
