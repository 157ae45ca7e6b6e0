"""A statement run for many rows reaches PostgreSQL in pages, not one round trip per row,
through the engine every service uses; every row is still written."""
import psycopg2.extensions
import sqlalchemy as sa

from shared.db.engine import create_service_engine

ROWS = 250


class CountingCursor(psycopg2.extensions.cursor):
    """Counts what goes to the server: one per execute, one per row of an executemany."""

    round_trips = 0

    def execute(self, query, vars=None):
        CountingCursor.round_trips += 1
        return super().execute(query, vars)

    def executemany(self, query, vars_list):
        vars_list = list(vars_list)
        CountingCursor.round_trips += len(vars_list)
        return super().executemany(query, vars_list)


def test_an_update_of_many_rows_goes_to_postgresql_in_pages_and_updates_every_row(databases):
    engine = create_service_engine(databases.url("submission"), pool_size=1, max_overflow=0)
    sa.event.listen(engine, "connect",
                    lambda dbapi, _record: setattr(dbapi, "cursor_factory", CountingCursor))
    table = sa.table("bulk_statement_probe", sa.column("id"), sa.column("state"))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS bulk_statement_probe"))
            conn.execute(sa.text("CREATE TABLE bulk_statement_probe "
                                 "(id integer PRIMARY KEY, state text NOT NULL)"))
            conn.execute(sa.insert(table), [{"id": i, "state": "queued"} for i in range(ROWS)])
        update = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(
            state=sa.bindparam("new_state"))
        with engine.begin() as conn:
            before = CountingCursor.round_trips
            conn.execute(update, [{"row_id": i, "new_state": f"sent-{i}"} for i in range(ROWS)])
            trips = CountingCursor.round_trips - before
        with engine.connect() as conn:
            states = dict(conn.execute(sa.select(table.c.id, table.c.state)).all())
        assert states == {i: f"sent-{i}" for i in range(ROWS)}
        assert trips <= 3, f"{trips} round trips for {ROWS} rows (pages of 100 expected)"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS bulk_statement_probe"))
        engine.dispose()
