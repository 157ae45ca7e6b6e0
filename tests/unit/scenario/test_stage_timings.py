"""The runner credits a step's time to the milestones of its instant even when the
submission service's own timer fired one a moment before the driver's tick (which then
reports nothing): at 1,000 proposals the deadline's time went to "submission"."""
from datetime import datetime, timezone

from grantflow.scenario.runner import ScenarioRunner
from grantflow.timetable import Milestone, Step

DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=timezone.utc)
START = datetime(2019, 1, 31, 23, 0, tzinfo=timezone.utc)


class Driver:
    def milestones(self):
        return [Milestone("C", "submission_deadline", "deadline", DEADLINE, True),
                Milestone("C", "evaluation_start", "evaluation", START, True)]


def runner() -> ScenarioRunner:
    made = ScenarioRunner.__new__(ScenarioRunner)  # no stack: the step accounting alone
    made.driver, made.milestones, made.started = Driver(), {}, 0.0
    made.call = type("Call", (), {"zone": timezone.utc})()
    made.said = []
    made.say = made.said.append
    return made


def test_a_milestone_the_services_timer_fired_first_still_gets_its_steps_time():
    r = runner()
    r._on_step(Step(DEADLINE, fired=[], settle_seconds=8.0, seconds=9.5))
    r._on_step(Step(START, fired=[{"milestone": "evaluation_start"}], settle_seconds=20.0,
                    seconds=24.0))

    assert r.milestones == {"submission_deadline": 9.5, "evaluation_start": 24.0}
    assert [line.split()[-1] for line in r.said] == ["submission_deadline", "evaluation_start"]


def test_a_later_step_at_the_same_instant_does_not_count_the_milestone_again():
    r = runner()
    r._on_step(Step(DEADLINE, fired=[], settle_seconds=8.0, seconds=9.5))
    r._on_step(Step(DEADLINE, fired=[], settle_seconds=0.1, seconds=0.2))  # an action's step

    assert r.milestones == {"submission_deadline": 9.5}
