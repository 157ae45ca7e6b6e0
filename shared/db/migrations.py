"""Alembic migrations per service, applied when the service starts.

Each service has ``services/<name>/migrations`` (env.py calls :func:`run_env`). Replicas
starting together on PostgreSQL take an advisory lock so only one migrates at a time.
"""
from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config


def alembic_config(script_location: str, connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: sa.Engine, script_location: str) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            key = zlib.crc32(script_location.encode())
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        command.upgrade(alembic_config(script_location, connection), "head")


def run_env() -> None:
    """The body of every service's ``migrations/env.py``: online mode on the connection
    the service handed over (no ini file, no URL in the repository)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through shared.db.migrations.upgrade_to_head")
    context.configure(connection=connection, target_metadata=None,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
