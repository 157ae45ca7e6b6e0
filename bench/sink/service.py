"""A minimal Grantflow consumer for the pipeline benchmark: the real ``@subscribe``
entrypoint and ``UnitOfWork.consume`` (processed-event claim + effect + commit in one
transaction), with the smallest possible effect, so the benchmark measures the plumbing
rather than one service's business logic."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from shared.db.provider import UnitOfWorkProvider
from shared.db.types import UtcDateTime
from shared.events import ProposalSubmitted
from shared.messaging.consumer import subscribe
from shared.service import ServiceBase

metadata = sa.MetaData()
received = sa.Table(
    "received", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
)


_INSERT = received.insert()


def record(uow, event) -> None:
    record_all(uow, [event])


def record_all(uow, events) -> None:
    """The effect of a batch in one statement (executemany)."""
    now = datetime.now(timezone.utc)
    uow.session.execute(_INSERT, [{"event_id": e.event_id, "occurred_at": e.occurred_at,
                                   "recorded_at": now} for e in events])


class BenchSink(ServiceBase):
    name = "benchsink"
    uow = UnitOfWorkProvider("bench.sink:migrations")

    @subscribe("submission", ProposalSubmitted)
    def on_submitted(self, event):
        self.uow.consume(event, record)


class BatchedBenchSink(ServiceBase):
    name = "benchsink"
    uow = UnitOfWorkProvider("bench.sink:migrations")

    @subscribe("submission", ProposalSubmitted, batch_size=100)
    def on_submitted(self, events):
        self.uow.consume_batch(events, record_all, bulk=True)
