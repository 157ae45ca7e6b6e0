"""Fixtures of evaluation's handler tests."""
import pytest

from tests.unit.evaluation.handler_support import Harness


@pytest.fixture
def h(tmp_path):
    """The evaluation handlers on a fresh SQLite database (see handler_support)."""
    return Harness(tmp_path)
