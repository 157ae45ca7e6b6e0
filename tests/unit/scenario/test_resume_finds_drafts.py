"""A resumed replay finds the drafts of the run before page by page, each page asked
after the last proposal of the page before (by offset, 100 pages of a 100,000 call made
the service read five million rows)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from grantflow.scenario import runner as runner_module
from grantflow.scenario.synthetic import synthetic_scenario
from tests.support.bare_runner import Clock, bare_runner

SCENARIO = synthetic_scenario(5, 2, 2019)


class Listing:
    """``GET /proposals`` over the scenario's drafts, by position only."""

    def __init__(self, specs):
        self.items = [{"id": f"P-{n:012d}", "acronym": spec.content["acronym"],
                       "title": spec.content["title"]} for n, spec in enumerate(specs)]
        self.asked = []

    def must(self, service, method, path, params=None, **kwargs):
        assert (service, method, path) == ("submission", "GET", "/proposals")
        self.asked.append(dict(params))
        assert "offset" not in params
        ids = [item["id"] for item in self.items]
        start = ids.index(params["after"]) + 1 if "after" in params else 0
        return self.items[start:start + params["limit"]]


def test_a_resumed_run_finds_every_draft_by_position(monkeypatch):
    monkeypatch.setattr(runner_module, "PAGE", 2)
    listing = Listing(SCENARIO.proposals)
    runner = bare_runner(SCENARIO, Clock(datetime(2018, 9, 1, tzinfo=timezone.utc)), listing,
                         resume=True)
    runner.ids, runner.refs = {}, {}
    runner._ids_lock = threading.Lock()
    runner._find_drafts()
    assert runner.ids == {spec.ref: item["id"]
                          for spec, item in zip(SCENARIO.proposals, listing.items)}
    assert [params.get("after") for params in listing.asked] == \
        [None, "P-000000000001", "P-000000000003"]
