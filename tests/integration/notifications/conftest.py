import pytest

from grantflow.topology import declare_all
from tests.support.stack import Stack


@pytest.fixture
def stack(tmp_path, vhost, databases, smtp, request):
    """The root ``stack`` fixture, declaring only the notifications service's queues: these
    tests start no other service, so they must not depend on the others importing."""
    stack = Stack(tmp_path, vhost, databases, smtp)
    declare_all(vhost.amqp_uri, services=["notifications"],
                retry_delays_ms=Stack.RETRY_DELAYS_MS)
    yield stack
    stack.stop_all()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(stack.logs())
