"""Every example scenario (scenarios/*.yaml) runs through the real services, broker,
PostgreSQL, SMTP server and simulated clock, and ends as its ``expect`` section says."""
from pathlib import Path

import pytest

from grantflow.scenario.environment import Environment
from grantflow.scenario.loader import load_scenario_file
from grantflow.scenario.runner import ScenarioRunner
from grantflow.scenario.summary import check_expectations
from shared.config import SERVICES
from shared.messaging.dlq import list_dead_letters

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def environment(stack) -> Environment:
    return Environment(service_urls={name: stack.url(name) for name in SERVICES},
                       amqp_uri=stack.vhost.amqp_uri, clock_path=stack.clock_path,
                       retry_delays_ms=stack.RETRY_DELAYS_MS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_ends_as_declared(stack, path):
    scenario = load_scenario_file(path)
    assert scenario.expect, f"{path.name} declares no expectations"
    stack.start(*SERVICES)

    ended = []  # the benchmarks' CPU meter reads each phase's cost when it ends
    apart = []  # and the cost of the deadline and the assignment apart from their phases
    runner = ScenarioRunner(scenario, environment(stack), phase_ended=ended.append,
                            milestone_apart=apart.append)
    report = runner.run()

    assert check_expectations(scenario, report) == []
    assert ended[:2] == ["publication", "drafts"] and ended[-1] == "finish"
    assert set(ended) == set(runner.timings)
    assert apart[:1] == ["applicants"]
    assert set(apart) - {"applicants", "deadline_to_assigned"} <= set(runner.milestones)
    # amid the applicants' actions or in the advance to the start of evaluation
    assert {"submission_deadline", "evaluation_start"} <= set(apart)
    unfinished = [(p["ref"], p["state"]) for p in report["proposals"] if not p["final_state"]]
    assert unfinished == []
    assert list_dead_letters(stack.vhost.amqp_uri) == []


def test_there_are_at_least_six_example_scenarios():
    assert len(SCENARIOS) >= 6, [p.name for p in SCENARIOS]
