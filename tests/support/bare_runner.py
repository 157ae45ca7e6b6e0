"""A scenario runner with no stack behind it: one phase of a replay against a fake
service, on a clock the test holds."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from grantflow.scenario.runner import ScenarioRunner
from shared.calls.loader import load_call_text


class Clock:
    def __init__(self, now):
        self.at = now

    def now(self):
        return self.at


class Driver:
    """Moves the test's clock; nothing to settle."""

    def __init__(self, clock):
        self.clock = clock

    def advance_to(self, instant, on_step=None):
        self.clock.at = instant

    def settle(self):
        return 0.0


def bare_runner(scenario, clock, people, *, resume=False, workers=2, specs=None, refs=None):
    """The runner's fields a phase reads, set by hand: ``people`` answers its calls,
    ``workers`` clients act at once (1: in the order the runner hands the actions over)."""
    runner = ScenarioRunner.__new__(ScenarioRunner)
    runner.scenario = scenario
    runner.call = load_call_text(scenario.call_yaml)
    runner.clock, runner.driver, runner.people = clock, Driver(clock), people
    runner.resume, runner.seed, runner.progress_bar = resume, 2019, False
    runner.specs, runner.refs = specs or {}, refs or {}
    runner.pool = ThreadPoolExecutor(max_workers=workers)
    runner.say = runner.observe = runner.phase_ended = lambda *args: None
    runner.milestone_apart = lambda name: None
    runner.timings, runner.milestones, runner.started = {}, {}, 0.0
    return runner
