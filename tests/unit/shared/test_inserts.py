"""INSERT ... ON CONFLICT DO NOTHING (shared/db/inserts.py), on the embedded SQLite (the
PostgreSQL form runs in every service's integration tests)."""
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import CacheStats

from shared.db.inserts import insert_all_ignoring_duplicates, insert_ignoring_duplicates
from shared.db.session import CoreSession

metadata = sa.MetaData()
clocks = sa.Table("clocks", metadata, sa.Column("proposal_id", sa.String, primary_key=True),
                  sa.Column("call_id", sa.String, nullable=False))


def fresh_session() -> CoreSession:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    return CoreSession(engine)


def rows(*ids):
    return [{"proposal_id": pid, "call_id": "AMIF"} for pid in ids]


def test_an_existing_key_is_skipped_and_the_others_go_in():
    session = fresh_session()
    assert insert_ignoring_duplicates(session, clocks, proposal_id="P-1", call_id="AMIF")
    assert not insert_ignoring_duplicates(session, clocks, proposal_id="P-1", call_id="X")
    insert_all_ignoring_duplicates(session, clocks, rows("P-1", "P-2", "P-3"))
    insert_all_ignoring_duplicates(session, clocks, [])
    assert session.execute(sa.select(clocks).order_by(clocks.c.proposal_id)).all() == [
        ("P-1", "AMIF"), ("P-2", "AMIF"), ("P-3", "AMIF")]


def test_rows_are_given_at_execution_so_the_compiled_statement_is_reused():
    """Rows written into the statement (``insert(table).values(rows)``) leave SQLAlchemy
    no cache key: it compiled the statement again at every use."""
    session = fresh_session()
    cache = []
    sa.event.listen(session.get_bind(), "after_cursor_execute",
                    lambda conn, cursor, statement, params, context, many:
                    cache.append(context.cache_hit))
    insert_all_ignoring_duplicates(session, clocks, rows("P-1", "P-2"))
    insert_all_ignoring_duplicates(session, clocks, rows("P-3", "P-4", "P-5"))
    insert_ignoring_duplicates(session, clocks, proposal_id="P-6", call_id="AMIF")
    insert_ignoring_duplicates(session, clocks, proposal_id="P-7", call_id="AMIF")
    assert cache[0] is CacheStats.CACHE_MISS and cache[2] is CacheStats.CACHE_MISS
    assert cache[1] is CacheStats.CACHE_HIT and cache[3] is CacheStats.CACHE_HIT
