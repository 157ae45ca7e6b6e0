"""How many PostgreSQL pages a piece of code's queries touch: each SELECT it sends is run
again under ``EXPLAIN (ANALYZE, BUFFERS)`` with the same parameters, after the planner
settings it made (``SET LOCAL``), in the order it sent them. A count of pages,
unlike a time, does not depend on what else the machine is doing."""
from __future__ import annotations

import sqlalchemy as sa


def selects_of(engine: sa.Engine, run) -> list[tuple[str, object]]:
    """The SELECT and SET statements (and their parameters) ``run()`` sent through
    ``engine``."""
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "SET ")):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return seen


def pages_touched(engine: sa.Engine, statements) -> int:
    """Shared buffers (hit or read) the SELECTs touch, run again in one transaction that is
    rolled back (a ``FOR UPDATE`` takes its locks only there, a ``SET LOCAL`` ends there)."""
    total = 0
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SET "):
                cursor.execute(statement, parameters)
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0][0]["Plan"]
            total += plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
        conn.rollback()
    return total


def heap_pages(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_relation_size(:t) / current_setting("
                                    "'block_size')::int"), {"t": table}).scalar()
