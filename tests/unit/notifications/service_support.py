"""Fakes and helpers for the handler tests: a real SQLite unit of work with the service's
migrations (tests/support/uow.py), a scripted mailer, a fixed clock, a dead-letter list."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from services.notifications.adapters.mailer import OutgoingMail, ServerState
from services.notifications.adapters.settings import Settings
from services.notifications.adapters.tables import deliveries
from services.notifications.domain.delivery import RetryPolicy
from services.notifications.handlers import dispatch_due, on_event
from shared.calls.loader import call_to_wire, load_default_call
from shared.events import CallPublished

from . import factories as f

OPS = ("ops@grantflow.example.eu",)
CONSUMER = "notifications.on_submission_event"


def settings(**kw) -> Settings:
    """Retries due at once (first backoff 0) so tests never wait on the wall clock."""
    return Settings(**{"operations": OPS, "retry": RetryPolicy(max_attempts=3,
                                                               first=timedelta(0)), **kw})


class FixedClock:
    def __init__(self, now: datetime):
        self.current = now

    def now(self) -> datetime:
        return self.current


@dataclass
class FakeMailer:
    """Records what it sends; ``failures[recipient]`` is an exception to raise instead;
    ``stop_after`` messages tried, it behaves as if the service were told to stop."""

    lease: timedelta = timedelta(seconds=120)
    failures: dict = field(default_factory=dict)
    sent: list = field(default_factory=list)
    tried: list = field(default_factory=list)
    announced: list = field(default_factory=list)  # each send's ``then``
    stop_after: int | None = None
    connections: int = 0
    state: ServerState = field(default_factory=lambda: ServerState("fake:25"))
    stopping: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def connection(self):
        self.connections += 1
        yield self

    def send(self, mail: OutgoingMail, then: OutgoingMail | None = None) -> None:
        self.tried.append(mail)
        self.announced.append(then)
        if self.stop_after is not None and len(self.tried) >= self.stop_after:
            self.stopping.set()
        if mail.recipient in self.failures:
            raise self.failures[mail.recipient]
        self.sent.append(mail)


class FakeDeadLetters:
    def __init__(self, letters=()):
        self.letters = list(letters)
        self.calls = 0

    def waiting(self, call_id: str):
        self.calls += 1
        return list(self.letters)


def call_published(version: int = 1) -> CallPublished:
    call = load_default_call()
    return CallPublished(**f.envelope(f.CALL_ID, at=datetime(2018, 7, 26, tzinfo=timezone.utc)),
                         version=version, title=call.title, call=call_to_wire(call))


def handle(factory, event, now: datetime | None = None, config: Settings | None = None,
           consumer: str = CONSUMER):
    """What the service's event entrypoint does."""
    return factory(consumer=consumer).consume(event, on_event, now or event.occurred_at,
                                              config or settings())


def deliver(factory, mailer, now: datetime, config: Settings | None = None) -> int:
    return dispatch_due(factory(), mailer, FixedClock(now), config or settings())


def rows(factory, **equal) -> list:
    where = [deliveries.c[name] == value for name, value in equal.items()]
    with factory.engine.connect() as conn:
        return list(conn.execute(sa.select(deliveries).where(*where)
                                 .order_by(deliveries.c.created_at, deliveries.c.recipient)))


def outbox_types(factory) -> list[str]:
    return [event["event_type"] for event in factory.outbox()]
