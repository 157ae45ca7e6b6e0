import pytest

from tests.support.uow import UowFactory

from .factories import make_call


@pytest.fixture
def call():
    return make_call()


@pytest.fixture
def uows(tmp_path):
    """A real unit of work on SQLite with the notifications migrations applied."""
    factory = UowFactory("services.notifications:migrations", tmp_path / "notifications.sqlite",
                         "notifications")
    yield factory
    factory.engine.dispose()
