import pytest


@pytest.fixture
def stack_services():
    """These tests start only notifications: they must not depend on the others importing."""
    return ["notifications"]
