"""What a resumed replay reads back from the services decides what it does again: an
applicant action shows as a version received at its instant (or a withdrawal), a grant
file's state says which steps its people still take."""
from __future__ import annotations

from dataclasses import replace

from grantflow.scenario.model import Action
from grantflow.scenario.runner import ScenarioRunner, _took_effect
from grantflow.scenario.synthetic import synthetic_scenario

SCENARIO = synthetic_scenario(30, 10, 2019)
SUBMIT = SCENARIO.proposals[0].actions[0]


def test_a_submission_took_effect_when_a_version_was_received_at_its_instant():
    received = SUBMIT.at.astimezone().isoformat()
    assert _took_effect(SUBMIT, {"state": "submitted", "versions": [{"received_at": received}]})
    assert not _took_effect(SUBMIT, {"state": "draft", "versions": []})
    later = Action(SUBMIT.at.replace(minute=59), "resubmit")
    assert not _took_effect(later, {"versions": [{"received_at": received}]})


def test_a_withdrawal_took_effect_when_the_proposal_is_withdrawn():
    withdraw = Action(SUBMIT.at, "withdraw", reason="no co-funding")
    assert _took_effect(withdraw, {"state": "withdrawn", "versions": []})
    assert not _took_effect(withdraw, {"state": "submitted", "versions": []})


def steps(grant_choice: str, state: str, authority: str = "sign") -> list[str]:
    runner = ScenarioRunner.__new__(ScenarioRunner)  # only the scenario is read
    spec = replace(SCENARIO.proposals[0], grant=grant_choice)
    runner.scenario = replace(SCENARIO, authority=authority)
    runner.specs, runner.refs = {spec.ref: spec}, {"P-1": spec.ref}
    return runner._grant_steps({"proposal_id": "P-1", "state": state})


def test_a_grant_file_continues_from_the_step_it_reached():
    assert steps("sign", "invited") == ["confirm", "sign", "authority-sign"]
    assert steps("sign", "data_confirmed") == ["sign", "authority-sign"]
    assert steps("sign", "coordinator_signed") == ["authority-sign"]
    assert steps("sign", "signed") == []
    assert steps("sign", "coordinator_signed", authority="none") == []
    assert steps("decline", "invited") == ["decline"]
    assert steps("decline", "declined") == []
    assert steps("ignore", "invited") == []
