"""How submissions and the closing of a topic stay in order, and replicas take turns.

Submissions against closing: a (re)submission locks its proposal's row (``SELECT ... FOR
UPDATE``) before it reads the clock, and closing a topic first locks *every* row of the
topic, drafts included. So closing waits for each submission in flight and then reads
what it committed; a submission that gets its row after the topic closed finds it frozen,
and in any case reads a clock at or past the deadline (the clock never goes back, and
closing only starts once it has reached the deadline). A draft created while closing runs
can only be submitted later, after the deadline, and is refused. Nothing accepted is
ever missing from the manifest. SQLite (one process, one pooled connection) serialises
whole transactions on that connection, which gives the same order.

Replicas: each timetable step of a call, and the loading of a call version, holds the
call's advisory lock (PostgreSQL, released at commit or rollback) and re-reads what is
already done once it has it; the primary keys of closed topics and fired milestones
would refuse a second copy anyway.
"""
from __future__ import annotations

import sqlalchemy as sa

_CALL = 0x5355_0002  # our namespace of two-key advisory locks
_EXCLUSIVE = sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))")


def call_exclusive(session, call_id: str) -> None:
    """Held by each timetable step of a call and by loading a call version."""
    connection = session.connection()  # SQLite: holding the one connection is the lock
    if connection.dialect.name == "postgresql":
        session.execute(_EXCLUSIVE, {"ns": _CALL, "key": call_id})
