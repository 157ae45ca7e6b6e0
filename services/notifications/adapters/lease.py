"""The heartbeat of a sending batch: it renews the lease of the batch's claimed rows.

A lease only has to outlast the time between two heartbeats, not the whole batch, so it
can be short (30 s by default) and a batch whose process died is taken over soon. The
heartbeat runs beside the batch (a green thread under eventlet), on its own connection,
every third of the lease. If it cannot renew in time (the database is away), ``lost`` is
true and the batch starts no new message: another sender may take those rows over.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from services.notifications.adapters import delivery_log as log

_log = logging.getLogger(__name__)

#: errors that a fresh connection or a moment later may not have: the server restarted or
#: terminated our backend, too many clients, a deadlock, the pool exhausted
DATABASE_AWAY = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def database_away(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_AWAY) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated)


class LeaseKeeper:
    def __init__(self, engine: sa.Engine, token: str, lease: timedelta):
        self.engine, self.token, self.lease = engine, token, lease
        self._stop = threading.Event()
        self._renewed = time.monotonic()  # the claim itself set the first lease
        self._thread = threading.Thread(target=self._run, name=f"lease-{token[:8]}",
                                        daemon=True)

    @property
    def lost(self) -> bool:
        """Whether the lease may have run out (no renewal for a whole lease, less a
        margin of a tenth for clock and commit delays)."""
        return time.monotonic() - self._renewed > self.lease.total_seconds() * 0.9

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as connection:
                    log.renew(connection, self.token,
                              datetime.now(timezone.utc) + self.lease)
                self._renewed = time.monotonic()
            except sa.exc.SQLAlchemyError as exc:
                if not database_away(exc):
                    raise
                _log.info("could not renew the lease of batch %s: %s", self.token,
                          str(exc).splitlines()[0])
