import pytest

from .factories import make_call


@pytest.fixture
def call():
    return make_call()
