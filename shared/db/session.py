"""The ``session`` of a unit of work: one SQLAlchemy Core connection, nothing more.

Every repository here runs Core statements (``uow.session.execute(...)``); none uses the
ORM's identity map or flushes. An ORM ``Session`` around them cost about 0.3 ms of CPU per
transaction on this machine (about 40 % of a small command's database work, measured by
``bench/pipeline.py``), so the unit of work holds a plain connection instead, with the
few methods the code calls. The connection is checked out of the pool on first use, so a
unit of work that reads nothing costs nothing, and returned on :meth:`close`.
"""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa


class CoreSession:
    __slots__ = ("_engine", "_connection", "info")

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._connection: sa.Connection | None = None
        #: what repositories note about the current transaction (e.g. the row locks it
        #: holds); emptied when the transaction ends
        self.info: dict = {}

    def connection(self) -> sa.Connection:
        """The connection (checked out now if not yet); a transaction begins with the
        first statement and ends with :meth:`commit` or :meth:`rollback`."""
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def execute(self, statement, params: Any = None, **kwargs) -> sa.CursorResult:
        return self.connection().execute(statement, params, **kwargs)

    def get_bind(self) -> sa.Engine:
        return self._engine

    def begin_nested(self) -> sa.NestedTransaction:
        """A savepoint (``with session.begin_nested(): ...``): a statement that may fail,
        e.g. on a unique key, without ending the unit of work's transaction."""
        return self.connection().begin_nested()

    def commit(self) -> None:
        self.info.clear()
        if self._connection is not None:
            self._connection.commit()

    def rollback(self) -> None:
        self.info.clear()
        if self._connection is not None:
            self._connection.rollback()

    def close(self) -> None:
        self.info.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # rolls back anything uncommitted, returns it to the pool


def session_factory(engine: sa.Engine) -> Callable[[], CoreSession]:
    """What :class:`~shared.db.uow.UnitOfWork` takes: a new session per unit of work."""
    return lambda: CoreSession(engine)
