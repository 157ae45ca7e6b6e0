"""Fixtures shared by every test suite. Unit tests need none of the infrastructure; the
integration fixtures start nothing until a test asks for them."""
from __future__ import annotations

import pytest

from tests.support.infra import Databases, SmtpServer, Vhost


@pytest.fixture
def vhost():
    vhost = Vhost().create()
    yield vhost
    vhost.delete()


@pytest.fixture
def databases():
    databases = Databases()
    yield databases
    databases.drop_all()


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def stack_services():
    """Whose queues the stack declares before anything starts (None: every service's).
    A test package overrides it to depend on fewer services' code."""
    return None


@pytest.fixture
def stack(tmp_path, vhost, databases, smtp, request, stack_services):
    """Services as processes; a test calls ``stack.start(...)`` with the ones it needs."""
    from tests.support.stack import Stack

    stack = Stack(tmp_path, vhost, databases, smtp)
    stack.declare_topology(stack_services)
    yield stack
    stack.stop_all()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(stack.logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
