"""The call report on PostgreSQL: its views come page by page from a server-side cursor
while each page's timelines are read on the same connection."""
import pytest

from tests.support.operations_scenario import CALL_ID, EXPECTED, call_events
from tests.support.uow import UowFactory
from tests.unit.operations.conftest import Ops
from tests.unit.operations.test_projections import _outcomes

pytestmark = pytest.mark.integration


def test_the_report_in_pages_of_two_is_the_report_in_one_page(databases, tmp_path):
    ops = Ops(UowFactory("services.operations:migrations", tmp_path / "unused", "operations",
                         url=databases.url("operations")))
    ops.feed(*call_events())

    paged = ops.report(CALL_ID, page=2)

    assert paged == ops.report(CALL_ID, page=1000)
    assert _outcomes(paged) == EXPECTED
    assert [len(p["timeline"]) > 0 for p in paged["proposals"]] == [True] * 9
    ops.factory.engine.dispose()
