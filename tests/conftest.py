"""Fixtures shared by every test suite. Unit tests need none of the infrastructure; the
integration fixtures start nothing until a test asks for them."""
from __future__ import annotations

import os

import pytest

from tests.support.infra import Databases, SmtpServer, Vhost

# The suite runs four stacks at once (make test: pytest-xdist) against one PostgreSQL whose
# default max_connections is 100: each test service keeps a pool of 2 (overflow 2) instead
# of production's 8 + 0, and its key locks as many, so that 4 stacks x 5 services stay
# inside it. A test that needs other values sets them
# (tests/integration/backbone/test_connection_budget.py).
os.environ.setdefault("GRANTFLOW_DB_POOL_SIZE", "2")
os.environ.setdefault("GRANTFLOW_DB_MAX_OVERFLOW", "2")
# eventlet's green DNS (dnspython) is a quarter of a second of every service's start, and
# the suite starts about 150 of them; its services reach only loopback addresses, which
# the system resolver answers as quickly without blocking anything
os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")


@pytest.fixture(autouse=True)
def _environment_restored():
    """A command run in-process (``main(["scenario", "run", ...])``) sets its stack's settings
    in ``os.environ`` as a one-shot CLI process may; they must not reach later tests' service
    processes (a leaked GRANTFLOW_LOG_LEVEL=WARNING once emptied their access logs)."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


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


#: the suites by how long their tests take (whole replays first, unit tests last)
_SLOWEST_FIRST = ("tests/e2e/", "tests/integration/", "tests/security/", "tests/contract/",
                  "tests/unit/")
#: within them, the tests that take a minute or more (``--durations``) go first of all
_LONGEST = ("tests/e2e/test_readme_walkthrough.py", "tests/e2e/test_faults.py",
            "tests/e2e/test_scenarios.py", "tests/e2e/test_pages_journey.py",
            "tests/integration/cli/test_stack_commands.py")


def pytest_collection_modifyitems(config, items):
    """Run the long tests first: with the suite spread over processes (pytest-xdist's
    ``--dist load``, ``make test``), a replay that started last would keep the other
    processes idle at the end."""
    def rank(item):
        path = item.nodeid
        longest = next((i for i, prefix in enumerate(_LONGEST) if path.startswith(prefix)),
                       None)
        if longest is not None:
            return (0, longest)
        return (1, next((i for i, prefix in enumerate(_SLOWEST_FIRST)
                         if path.startswith(prefix)), len(_SLOWEST_FIRST)))
    items.sort(key=rank)  # stable: the order within a group is kept
