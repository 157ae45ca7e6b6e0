"""Handler tests run the submission handlers on a real SQLite unit of work with the
service's migrations applied (tests/support/uow.py)."""
from __future__ import annotations

import pytest

from services.submission import handlers
from tests.support.submission_data import (OPS, DURING_SUBMISSION, ManualClock, applicant,
                                           call_yaml)
from tests.support.uow import UowFactory

__all__ = ["OPS", "applicant", "events"]


def events(uows, event_type: str | None = None) -> list[dict]:
    """Outbox payloads, oldest first (of one type if given)."""
    return [e for e in uows.outbox() if event_type is None or e["event_type"] == event_type]


@pytest.fixture
def uows(tmp_path):
    factory = UowFactory("services.submission:migrations", tmp_path / "submission.sqlite",
                         "submission")
    yield factory
    factory.engine.dispose()


@pytest.fixture
def clock():
    return ManualClock(DURING_SUBMISSION)


@pytest.fixture
def published(uows):
    """The bundled call, published at the simulated time of the submission period."""
    status, body = handlers.load_call(uows(), OPS, call_yaml(), DURING_SUBMISSION)
    assert status == 201, body
    return body
