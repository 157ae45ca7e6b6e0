"""The scenario runner imports a large pool in several files (one request of 30,000
experts is over the import's 8 MB limit), and the real evaluation service adds the files up
to the pool one file would make: every expert once, none lost between files."""
from dataclasses import replace

import pytest

from grantflow.scenario import runner as runner_module
from grantflow.scenario.client import People
from grantflow.scenario.synthetic import synthetic_scenario
from shared.auth import DEFAULT_DEV_SECRET
from tests.support.bare_runner import Clock, bare_runner
from tests.support.evaluation_events import expert_record

pytestmark = [pytest.mark.integration]


def test_a_pool_sent_in_files_is_the_whole_pool(stack, monkeypatch):
    stack.start("evaluation")
    scenario = replace(synthetic_scenario(2, 1, 2019),
                       experts=tuple(expert_record(i) for i in range(1, 6)))
    people = People({"evaluation": stack.url("evaluation")}, DEFAULT_DEV_SECRET)
    runner = bare_runner(scenario, Clock(None), people)
    sent = []
    must = people.must

    def counted(service, method, path, **kwargs):
        sent.append((kwargs["key"], [e["id"] for e in kwargs["json"]["experts"]]))
        return must(service, method, path, **kwargs)

    monkeypatch.setattr(runner_module, "EXPERTS_PER_IMPORT", 2)
    monkeypatch.setattr(people, "must", counted)
    try:
        assert runner._import_experts() == 5
        runner._import_experts()  # a resumed run sends the same files again
    finally:
        people.close()

    assert [ids for _, ids in sent[:3]] == [["E-1", "E-2"], ["E-3", "E-4"], ["E-5"]]
    assert len({key for key, _ in sent[:3]}) == 3  # one idempotency key per file
    assert [key for key, _ in sent[3:]] == [key for key, _ in sent[:3]]
    pool = stack.api("evaluation").get("/experts").json()
    assert sorted(e["id"] for e in pool) == ["E-1", "E-2", "E-3", "E-4", "E-5"]
