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


class SteppingDriver(Driver):
    """Steps through the milestones up to the target as the real driver does."""

    def __init__(self, clock):
        self.clock = clock

    def advance_to(self, target, on_step=None):
        for milestone in self.milestones():
            if self.clock.at < milestone.at <= target:
                self.clock.at = milestone.at
                on_step(Step(milestone.at, fired=[], settle_seconds=1.0, seconds=1.5))
        self.clock.at = target


def test_a_milestone_amid_the_applicants_actions_is_measured_apart_from_them():
    """The benchmark's CPU meter reads a boundary before the clock moves (what the actions
    so far cost) and one after each milestone settled (what it cost): the deadline's
    screening and the assignment then have figures of their own, not the applicants'."""
    r = runner()
    r.clock = type("Clock", (), {"at": DEADLINE.replace(hour=10), "now": lambda c: c.at})()
    r.driver = SteppingDriver(r.clock)
    r.apart = []
    r.milestone_apart = r.apart.append

    r._advance(DEADLINE.replace(hour=12), amid="applicants")  # no milestone on the way
    r._advance(START.replace(hour=23, minute=30), amid="applicants")
    r._advance(START.replace(hour=23, minute=45))  # not amid a phase's own work: no boundary

    assert r.apart == ["applicants", "applicants", "submission_deadline", "evaluation_start"]
    assert r.milestones == {"submission_deadline": 1.5, "evaluation_start": 1.5}
