"""The nameko DependencyProvider that gives each worker a unit of work on the service's own
database, applies the service's migrations on start and runs its outbox relay."""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider
from shared.config import DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE
from shared.db.engine import create_service_engine, default_sqlite_url
from shared.db.migrations import upgrade_to_head
from shared.db.session import session_factory
from shared.db.uow import UnitOfWork
from shared.messaging.relay import OutboxRelay

_log = logging.getLogger(__name__)


class UnitOfWorkProvider(DependencyProvider):
    """Config keys: ``DATABASE_URL`` (SQLite file under ``VAR_DIR`` when absent),
    ``DB_POOL`` (``size``, ``max_overflow``, ``pre_ping``: shared/config.py reads them
    from ``GRANTFLOW_*DB_*``), ``AMQP_URI``, ``OUTBOX_RELAY`` (``batch_size``,
    ``poll_interval``, ``linger`` in seconds, ``enabled``)."""

    def __init__(self, migrations: str):
        #: Alembic script location, e.g. ``services.submission:migrations``
        self.migrations = migrations

    def setup(self):
        config = self.container.config
        service = self.container.service_name
        url = config.get("DATABASE_URL") or default_sqlite_url(service, config.get("VAR_DIR", "var"))
        pool = config.get("DB_POOL") or {}
        self.engine = create_service_engine(
            url, pool_size=int(pool.get("size", DEFAULT_DB_POOL_SIZE)),
            max_overflow=int(pool.get("max_overflow", DEFAULT_DB_MAX_OVERFLOW)),
            pre_ping=bool(pool.get("pre_ping", True)))
        upgrade_to_head(self.engine, self.migrations)
        self.session_factory = session_factory(self.engine)
        relay_config = config.get("OUTBOX_RELAY") or {}
        self.relay = None
        if relay_config.get("enabled", True):
            self.relay = OutboxRelay(
                self.engine, config["AMQP_URI"], service,
                batch_size=int(relay_config.get("batch_size", 500)),
                poll_interval=float(relay_config.get("poll_interval", 0.5)),
                linger=float(relay_config.get("linger", 0.005)))

    def start(self):
        if self.relay is not None:
            self.container.spawn_managed_thread(self.relay.run_forever,
                                                identifier="outbox-relay")

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
        self.engine.dispose()

    def kill(self):
        self.stop()

    def _wake_relay(self):
        if self.relay is not None:
            self.relay.wake()

    def get_dependency(self, worker_ctx):
        entrypoint = worker_ctx.entrypoint
        consumer = getattr(entrypoint, "consumer_name", None)
        # an HTTP request with an Idempotency-Key (shared.web, shared.idempotency)
        before_commit = worker_ctx.data.get("grantflow.before_commit")
        return UnitOfWork(self.session_factory, self.container.service_name,
                          on_commit=self._wake_relay, consumer=consumer,
                          before_commit=before_commit)

    def unit_of_work(self, consumer: str | None = None) -> UnitOfWork:
        """A unit of work outside a worker (timers, start-up tasks, tests)."""
        return UnitOfWork(self.session_factory, self.container.service_name,
                          on_commit=self._wake_relay, consumer=consumer)
