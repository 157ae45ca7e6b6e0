"""Operations handlers on a real SQLite unit of work with the service's migrations."""
from __future__ import annotations

import json

import pytest

from services.operations import handlers
from shared.events import load
from tests.support.operations_scenario import RANKED, wire
from tests.support.uow import UowFactory

CONSUMER = "operations.record_submission_events"


class Ops:
    """Feeds events to the operations handlers as the consumer does, and queries."""

    def __init__(self, factory: UowFactory):
        self.factory = factory
        self.now = RANKED

    def uow(self, consumer: str | None = None):
        return self.factory(consumer)

    def feed(self, *events) -> None:
        for event in events:
            # through the wire form, as the broker delivers it
            self.factory(CONSUMER).consume(load(wire(event)), handlers.on_event, self.now)

    def report(self, call_id: str, page: int = handlers.REPORT_PAGE) -> dict:
        """The report as the service sends it: its text, written page by page."""
        return json.loads("".join(handlers.report_json(self.uow(), call_id, self.now, page)))

    def proposals(self, call_id: str, **filters) -> list[dict]:
        """The call's proposals as the service sends them (JSON text, page by page)."""
        return json.loads("".join(handlers.call_proposals_json(self.uow(), call_id,
                                                               **filters)))["proposals"]

    def overview(self, call_id: str) -> dict:
        return handlers.overview(self.uow(), call_id, self.now)


@pytest.fixture
def ops(tmp_path) -> Ops:
    factory = UowFactory("services.operations:migrations", tmp_path / "operations.sqlite",
                         "operations")
    yield Ops(factory)
    factory.engine.dispose()
