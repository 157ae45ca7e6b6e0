"""The evaluation handlers on each database the service runs on: SQLite, the embedded
default, and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.unit.evaluation.handler_support import Harness


@pytest.fixture(params=["sqlite", "postgresql"])
def h(request, tmp_path):
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("databases").url("evaluation")
    harness = Harness(tmp_path, url=url)
    yield harness
    harness.factory.engine.dispose()
