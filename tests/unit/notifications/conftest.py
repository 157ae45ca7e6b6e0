import pytest

from tests.support.uow import UowFactory

from .factories import make_call


@pytest.fixture
def call():
    return make_call()


def _uows(path):
    factory = UowFactory("services.notifications:migrations", path, "notifications")
    yield factory
    factory.engine.dispose()


@pytest.fixture
def uows(tmp_path):
    """A real unit of work on SQLite with the notifications migrations applied."""
    yield from _uows(tmp_path / "notifications.sqlite")


@pytest.fixture
def other_uows(tmp_path):
    """A second database like ``uows``: the same events handled another way."""
    yield from _uows(tmp_path / "other.sqlite")
