"""Alembic environment: migrations run on the connection the service hands over."""
from shared.db.migrations import run_env

run_env()
