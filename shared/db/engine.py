"""Engines for a service's own database: PostgreSQL when configured, SQLite by default."""
from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from eventlet.patcher import original
from sqlalchemy.engine import URL, make_url

from shared.config import DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE

_log = logging.getLogger(__name__)
# the system's poll, also in a process eventlet has patched: a zero-timeout poll of a
# socket must answer at once, not wait in the hub for the socket to become readable
_select = original("select")


def default_sqlite_url(service_name: str, var_dir: str | Path = "var") -> str:
    path = Path(var_dir).resolve() / "data" / f"{service_name}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def normalise_url(url: str | URL) -> URL:
    """Plain ``postgresql://`` means psycopg2 here: SQLAlchemy 2.1 would pick psycopg 3,
    which silently serialises every query under eventlet (DEVELOPERS.md, "Stack")."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def create_service_engine(url: str, pool_size: int = DEFAULT_DB_POOL_SIZE,
                          max_overflow: int = DEFAULT_DB_MAX_OVERFLOW,
                          pre_ping: bool = True) -> sa.Engine:
    """One engine per service process.

    SQLite (the embedded quick-run default) gets a single pooled connection: all green
    threads of a nameko process share one OS thread, so a second SQLite writer would block
    the whole process inside SQLite's busy handler; queueing on the pool instead yields
    cooperatively. PostgreSQL gets a pool of ``pool_size`` kept connections plus at most
    ``max_overflow`` opened under load (deploy/README.md, "Connection budget"); workers
    beyond it wait for a connection cooperatively. ``pre_ping`` tests each connection as
    it is checked out, so one that PostgreSQL or a pooler closed (restart,
    ``pg_terminate_backend``, idle timeout) is replaced before a transaction uses it,
    instead of failing that transaction: by looking at its socket, not with a round trip
    (:func:`_closed_by_the_server`).

    A statement run for many rows (``execute(update, rows)``: a projection's views, the
    delivery log's outcomes) goes to PostgreSQL a hundred at a time (psycopg2's
    ``execute_batch``) instead of one round trip per row. A plain INSERT, or one with
    RETURNING, goes as multi-row VALUES; SQLAlchemy does not do so for an INSERT ... ON
    CONFLICT without RETURNING (its issue #13130), which goes a hundred statements per
    round trip like an UPDATE (measured: multi-row VALUES would not save CPU there). The
    price: such a statement's ``rowcount`` is not the number of rows it
    touched, so code that needs that count runs one statement (every ``rowcount`` read in
    the services is of a single statement).
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed, pool_size=1, max_overflow=0, pool_timeout=60,
            poolclass=sa.pool.QueuePool,
            connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    ensure_postgres_database(parsed)
    engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow,
                              pool_timeout=60, pool_recycle=1800,
                              executemany_mode="values_plus_batch")
    return checked_on_checkout(engine) if pre_ping else engine


def checked_on_checkout(engine: sa.Engine) -> sa.Engine:
    """``engine``, whose pool replaces a connection the server has closed before handing
    it out (:func:`_closed_by_the_server`)."""
    sa.event.listen(engine, "checkout", _closed_by_the_server)
    return engine


def _closed_by_the_server(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout check: a pooled connection the server (or a pooler) has closed is
    replaced (``DisconnectionError``: the pool opens another and checks that).

    An idle PostgreSQL connection receives nothing until it sends a query; a backend
    that ends (``pg_terminate_backend``, a restart, an idle timeout) sends its error and
    closes the socket, so a readable socket means a closed connection. Polling it costs
    a system call where SQLAlchemy's ``pool_pre_ping`` ran ``SELECT 1``, a round trip
    and a statement on the server for every transaction (bench/pool_checkout.py: about
    0.1 ms of the client's CPU and 0.1 ms of the server's; a tenth of an event
    consumer's CPU under py-spy, though not measurable in a whole call). A connection
    that ends at the very moment it is checked fails its transaction, as one ending
    during it would (deploy/README.md, "Connection budget")."""
    if dbapi_connection.closed:
        raise sa.exc.DisconnectionError("the pooled connection was closed")
    poller = _select.poll()
    poller.register(dbapi_connection.fileno(), _select.POLLIN | _select.POLLERR
                    | _select.POLLHUP)
    if poller.poll(0):
        raise sa.exc.DisconnectionError(
            "PostgreSQL closed the pooled connection (its socket has data or an end)")


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ensure_postgres_database(url: URL) -> None:
    """Create the service's database on first start (a fresh machine has none)."""
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": url.database}).scalar()
            if not exists:
                _log.info("creating database %s", url.database)
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
                except sa.exc.ProgrammingError as exc:  # a replica created it meanwhile
                    if "already exists" not in str(exc):
                        raise
    finally:
        admin.dispose()


def drop_postgres_databases(url: str | URL, pattern: str) -> list[str]:
    """Drop every database whose name matches the SQL LIKE ``pattern``, sessions and all
    (a fresh demo, a finished test); returns their names."""
    admin = sa.create_engine(normalise_url(url).set(database="postgres"),
                             isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": pattern}).scalars().all()
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return list(names)
    finally:
        admin.dispose()


def walk_queue_in_index_order(connection: sa.Connection) -> None:
    """For the rest of this transaction, read with plain index scans, not bitmap scans
    (PostgreSQL only): for the polls of a queue table (the outbox, the delivery log).

    Every row that leaves the queue leaves a dead entry in the queue's indexes until a
    vacuum. A plain index scan marks such an entry dead the first time it meets it, and
    every later scan skips it; a bitmap scan never marks them and visits every one of them
    again, at every poll. The planner picks the bitmap scan when its statistics say the
    queue is short, which they say between vacuums (or always, where autovacuum is off):
    at the end of a 10,000-proposal call on this machine, the notifications outbox poll
    took 237 ms and the delivery claim 860 ms with nothing to do."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
