"""How many PostgreSQL pages a piece of code's queries touch: each SELECT it sends is run
again under ``EXPLAIN (ANALYZE, BUFFERS)`` with the same parameters, after the planner
settings it made (``SET LOCAL``), in the order it sent them. A count of pages,
unlike a time, does not depend on what else the machine is doing."""
from __future__ import annotations

import re
import time
from collections import Counter

import sqlalchemy as sa


def selects_of(engine: sa.Engine, run) -> list[tuple[str, object]]:
    """The SELECT and SET statements (and their parameters) ``run()`` sent through
    ``engine``."""
    return _kept_while(engine, run, lambda statement, parameters: (
        (statement, parameters) if statement.lstrip().upper().startswith(("SELECT", "SET "))
        else None))


def sent_by(engine: sa.Engine, run) -> list[str]:
    """Every statement ``run()`` sent through ``engine``, whitespace folded (an executemany
    counts once per batch of rows handed to the driver)."""
    return _kept_while(engine, run,
                       lambda statement, _: re.sub(r"\s+", " ", statement).strip())


def _kept_while(engine: sa.Engine, run, keep) -> list:
    """``keep(statement, parameters)`` of each statement ``run()`` sends (None: not kept)."""
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        kept = keep(statement, parameters)
        if kept is not None:
            seen.append(kept)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return seen


def starting(statements: list[str], prefix: str) -> int:
    """How many of ``statements`` (:func:`sent_by`'s) start with ``prefix``."""
    return sum(statement.startswith(prefix) for statement in statements)


def tables_read(statements) -> Counter:
    """How many of ``statements`` (:func:`selects_of`'s) are SELECTs reading from each
    table (the first one each names after FROM)."""
    read = Counter()
    for statement, _ in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            found = re.search(r"\bFROM (\w+)", statement)
            read[found.group(1) if found else "(none)"] += 1
    return read


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


def pages_once_met(engine: sa.Engine, poll, below: int, timeout: float = 15.0) -> int:
    """The pages ``poll()``'s queries touch once they have met the dead rows: ``poll`` runs
    again (at most for ``timeout`` seconds) until its queries touch fewer than ``below``
    pages; returns the last count. An index scan marks an entry dead only when no
    transaction that may still see its row is open; in a suite that runs four stacks at
    once on one cluster that can take a few polls. A bitmap scan never marks them: its
    count stays at every heap page however long it polls."""
    deadline = time.monotonic() + timeout
    while True:
        touched = pages_touched(engine, selects_of(engine, poll))
        if touched < below or time.monotonic() > deadline:
            return touched
        time.sleep(0.2)
