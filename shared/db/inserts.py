"""INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and on the embedded SQLite.

Consumers run at least once, and two of them may create the same row at the same moment:
a row whose key exists is skipped, never a unique violation that fails the transaction.

The statement is built once per dialect and table, and the rows are given when it is
executed: one row's values, or a list of rows (executemany, which SQLAlchemy sends as one
multi-row INSERT per batch). Rows written into the statement (``insert(table).values(
rows)``) make a statement SQLAlchemy cannot cache: it was compiled again at every use, at
every draft (its parts) and at every batch of grant clocks.
"""
from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_for(session, table: sa.Table):
    """The INSERT into ``table`` of the session's database, PostgreSQL's or SQLite's: the
    two that take ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    return _dialect_insert(session.get_bind().dialect.name)(table)


def insert_ignoring(session, table: sa.Table):
    """The statement for ``table`` on the session's database (to learn which rows went
    in, :func:`insert_ignoring_returning`)."""
    return _statement(session.get_bind().dialect.name, table)


def insert_ignoring_returning(session, column: sa.Column):
    """:func:`insert_ignoring` of ``column``'s table, returning ``column`` of the rows that
    went in (built once per dialect, as the statement itself)."""
    return _returning(session.get_bind().dialect.name, column)


def insert_ignoring_duplicates(session, table: sa.Table, **values) -> bool:
    """INSERT ``values`` unless the key exists; True if the row was inserted."""
    return session.execute(insert_ignoring(session, table), values).rowcount == 1


def insert_all_ignoring_duplicates(session, table: sa.Table, rows: list[dict]) -> None:
    """INSERT every row of ``rows`` (all with the same keys) whose key does not exist."""
    if rows:
        session.execute(insert_ignoring(session, table), rows)


@functools.cache
def _statement(dialect: str, table: sa.Table):
    return _dialect_insert(dialect)(table).on_conflict_do_nothing()


@functools.cache
def _returning(dialect: str, column: sa.Column):
    return _statement(dialect, column.table).returning(column)


def _dialect_insert(dialect: str):
    return pg_insert if dialect == "postgresql" else sqlite_insert
