"""PostgreSQL's autovacuum for a benchmark's own databases, on a server that has it off.

A production PostgreSQL vacuums and analyses a table once enough of it changed. This
machine's server runs with ``autovacuum = off`` (its CI configuration), and at scale that
is not what a deployment would measure: in the first 100,000-proposal run, after 50 minutes,
notifications' delivery tables held 1.5 million dead rows and had never been analysed, and
the applicants' submissions had slowed from 93 to 27 a second; one manual
``VACUUM (ANALYZE)`` brought them back to 84 a second.

So where the server's autovacuum is off, a benchmark runs this in a thread: every
``naptime`` (the server's ``autovacuum_naptime``) it applies autovacuum's own rule to each
table of the run's databases and no other (``pg_stat_user_tables``: vacuum when the dead
rows exceed ``threshold + scale_factor x live rows``, analyse when the rows changed since
the last analysis exceed the analyse threshold; the server's settings, overridden by a
table's storage parameters such as notifications' queue tables set), and reports what it
did so the figures say it. Where the server's autovacuum is on, it does nothing.

    python -m bench.autovacuum --prefix gft_0123456789 [--naptime 60]   # a running stack
"""
from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from shared.db.engine import normalise_url

SETTINGS = ("autovacuum", "autovacuum_naptime", "autovacuum_vacuum_threshold",
            "autovacuum_vacuum_scale_factor", "autovacuum_analyze_threshold",
            "autovacuum_analyze_scale_factor")

TABLES = sa.text("""
    SELECT s.relname, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, c.reloptions
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname = 'public'""")


@dataclass(frozen=True)
class Rule:
    """Autovacuum's thresholds for one table."""

    vacuum_threshold: float
    vacuum_scale: float
    analyze_threshold: float
    analyze_scale: float

    def with_options(self, reloptions: list[str] | None) -> "Rule":
        """The table's own storage parameters where it sets them."""
        options = dict(option.split("=", 1) for option in reloptions or [])

        def pick(name: str, default: float) -> float:
            return float(options.get(f"autovacuum_{name}", default))
        return Rule(pick("vacuum_threshold", self.vacuum_threshold),
                    pick("vacuum_scale_factor", self.vacuum_scale),
                    pick("analyze_threshold", self.analyze_threshold),
                    pick("analyze_scale_factor", self.analyze_scale))

    def action(self, live: int, dead: int, changed: int) -> str | None:
        """``VACUUM (ANALYZE)``, ``ANALYZE`` or nothing, as autovacuum decides."""
        if dead > self.vacuum_threshold + self.vacuum_scale * live:
            return "VACUUM (ANALYZE)"
        if changed > self.analyze_threshold + self.analyze_scale * live:
            return "ANALYZE"
        return None


def server_settings(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, setting FROM pg_settings WHERE name IN "
                                    "(" + ", ".join(f"'{name}'" for name in SETTINGS) + ")"))
        return {name: setting for name, setting in rows}


def default_rule(settings: dict[str, str]) -> Rule:
    return Rule(float(settings["autovacuum_vacuum_threshold"]),
                float(settings["autovacuum_vacuum_scale_factor"]),
                float(settings["autovacuum_analyze_threshold"]),
                float(settings["autovacuum_analyze_scale_factor"]))


def due(conn, rule: Rule) -> list[tuple[str, str]]:
    """(statement, table) for each table of this database that autovacuum would take now."""
    found = []
    for name, live, dead, changed, reloptions in conn.execute(TABLES):
        action = rule.with_options(reloptions).action(live or 0, dead or 0, changed or 0)
        if action:
            found.append((action, name))
    return found


@dataclass
class Autovacuum:
    """Emulates autovacuum on the databases named ``{prefix}_...`` while the server's is
    off (``active``); a thread from :meth:`start` to :meth:`stop`."""

    server_url: str  # a PostgreSQL URL without a database
    prefix: str
    naptime: float | None = None  # the server's autovacuum_naptime when None
    vacuums: int = 0
    analyzes: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)  # "db.table" -> times taken

    def __post_init__(self):
        self._server = sa.create_engine(normalise_url(self.server_url + "/postgres"),
                                        poolclass=sa.pool.NullPool)
        settings = server_settings(self._server)
        self.server_autovacuum = settings["autovacuum"]
        self.active = self.server_autovacuum != "on"
        self.rule = default_rule(settings)
        if self.naptime is None:
            self.naptime = float(settings["autovacuum_naptime"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="autovacuum")

    def __enter__(self) -> "Autovacuum":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Autovacuum":
        if self.active:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()  # a VACUUM under way finishes: the figures include it
        self._server.dispose()

    def _run(self) -> None:
        while not self._stop.wait(self.naptime):
            try:
                self.round()
            except sa.exc.SQLAlchemyError:
                continue  # a database dropped at the end of the run; the next round decides

    def databases(self) -> list[str]:
        with self._server.connect() as conn:
            return list(conn.execute(sa.text(
                "SELECT datname FROM pg_database WHERE datname LIKE :prefix ORDER BY datname"),
                {"prefix": self.prefix + "\\_%"}).scalars())

    def round(self) -> int:
        """One pass over the run's databases; the number of tables taken."""
        taken = 0
        for database in self.databases():
            engine = sa.create_engine(normalise_url(f"{self.server_url}/{database}"),
                                      poolclass=sa.pool.NullPool,
                                      isolation_level="AUTOCOMMIT")  # VACUUM: no transaction
            try:
                with engine.connect() as conn:
                    for statement, table in due(conn, self.rule):
                        started = time.monotonic()
                        conn.execute(sa.text(f'{statement} "{table}"'))
                        self.seconds += time.monotonic() - started
                        if statement == "ANALYZE":
                            self.analyzes += 1
                        else:
                            self.vacuums += 1
                        key = f"{database.removeprefix(self.prefix + '_')}.{table}"
                        self.tables[key] = self.tables.get(key, 0) + 1
                        taken += 1
            finally:
                engine.dispose()
        return taken

    def report(self) -> dict:
        """What the figures need to say about the server's maintenance."""
        return {"server_autovacuum": self.server_autovacuum, "emulated": self.active,
                "naptime_s": self.naptime, "vacuums": self.vacuums,
                "analyzes": self.analyzes, "seconds": round(self.seconds, 1),
                "most_taken": dict(sorted(self.tables.items(), key=lambda item: -item[1])[:8])}


def main() -> int:
    from tests.support.infra import PG_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="the run's database prefix (gft_...)")
    parser.add_argument("--naptime", type=float, default=None)
    args = parser.parse_args()
    worker = Autovacuum(PG_URL, args.prefix, args.naptime)
    if not worker.active:
        print("the server's autovacuum is on: nothing to do")
        return 0
    print(f"emulating autovacuum every {worker.naptime:.0f}s on {args.prefix}_*", flush=True)
    try:
        while True:
            started = time.monotonic()
            taken = worker.round()
            if taken:
                print(f"{time.strftime('%H:%M:%S')} {taken} table(s) in "
                      f"{time.monotonic() - started:.1f}s: {worker.report()}", flush=True)
            time.sleep(worker.naptime)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
