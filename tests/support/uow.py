"""A real unit of work on a throwaway SQLite file with a service's migrations applied:
for testing handlers without starting nameko (fakes over mocks, architecture rule 10)."""
from __future__ import annotations

from pathlib import Path

from shared.db.engine import create_service_engine
from shared.db.migrations import upgrade_to_head
from shared.db.session import session_factory
from shared.db.uow import UnitOfWork


class UowFactory:
    def __init__(self, migrations: str, path: Path, service: str, url: str | None = None):
        self.engine = create_service_engine(url or f"sqlite:///{path}")
        upgrade_to_head(self.engine, migrations)
        self.session_factory = session_factory(self.engine)
        self.service = service

    def __call__(self, consumer: str | None = None) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.service, consumer=consumer)

    def outbox(self) -> list[dict]:
        """Events committed so far, as wire payloads, oldest first."""
        import json

        import sqlalchemy as sa

        from shared.messaging.tables import outbox
        with self.engine.connect() as conn:
            return [json.loads(row.payload) for row in
                    conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.id))]
