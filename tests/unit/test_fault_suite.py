"""The fault suite's own honesty: every experiment's trigger names something the call it
replays has (five screening experiments once looked up a stage the call lacks, their
watcher thread died unseen and they passed without the fault ever happening), and an
experiment that never struck fails the suite."""
import pytest

from bench.faults import STAGES, TRIGGERS, _milestone, experiments, passed, summarise
from grantflow.scenario.synthetic import synthetic_scenario
from shared.calls.loader import load_call_text

CALL = load_call_text(synthetic_scenario(60, 30, 2019).call_yaml)


def test_every_milestone_trigger_is_an_instant_of_the_call():
    milestone_stages = [stage for stage in STAGES if TRIGGERS[stage].milestone]
    assert milestone_stages  # screening and letters strike on the clock
    for stage in milestone_stages:
        at = _milestone(CALL, TRIGGERS[stage].milestone)
        assert at.tzinfo is not None
    assert _milestone(CALL, "submission_deadline") == CALL.deadline
    assert {e.stage for e in experiments()} <= set(STAGES)


def result(name, struck=True, **figures):
    return {"name": name, "completed": True, "struck": struck, "diverged": 0,
            "lost_mails": 0, "duplicate_mails": 0, "explained_duplicate_mails": 0, **figures}


def test_an_experiment_that_never_struck_fails_the_suite():
    assert passed(summarise([result("kill:a@reports")], 1.0, 2.0))
    assert passed(summarise([result("kill:a@reports", duplicate_mails=2,
                                    explained_duplicate_mails=2)], 1.0, 2.0))
    missed = summarise([result("kill:a@reports"), result("kill:b@screening", struck=False)],
                       1.0, 2.0)
    assert missed["not_struck"] == ["kill:b@screening"]
    assert not passed(missed)
    assert not passed(summarise([result("x", lost_mails=1)], 1.0, 2.0))
    assert not passed(summarise([result("x", duplicate_mails=1)], 1.0, 2.0))


def test_a_milestone_the_call_lacks_is_refused_by_name():
    with pytest.raises(KeyError, match="submission_end"):
        _milestone(CALL, "submission_end")
