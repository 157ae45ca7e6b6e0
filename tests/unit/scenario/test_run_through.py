"""``ScenarioRunner.run(through=...)``: a benchmark of a call too large to finish in one
sitting stops after a phase, and still gets the call's report as it stands."""
import pytest

from grantflow.scenario.runner import PHASES, ScenarioRunner


class Recorder(ScenarioRunner):
    """Each phase only notes that it ran; the pool and the clients are stand-ins."""

    def __init__(self):  # no stack: the phase order alone
        self.ran, self.closed = [], []
        self.pool = type("Pool", (), {"shutdown": lambda _, **kw: self.closed.append("pool")})()
        self.people = type("People", (), {"close": lambda _: self.closed.append("people")})()
        for phase in PHASES:
            setattr(self, phase, lambda phase=phase: self.ran.append(phase))

    def report(self):
        return {"after": list(self.ran)}


def test_the_whole_replay_runs_every_phase_in_order_then_reports():
    runner = Recorder()

    assert runner.run() == {"after": list(PHASES)}
    assert runner.closed == ["pool", "people"]


@pytest.mark.parametrize("through", PHASES)
def test_a_run_through_a_phase_stops_after_it_with_the_report_as_it_stands(through):
    runner = Recorder()

    report = runner.run(through=through)

    assert report == {"after": list(PHASES[:PHASES.index(through) + 1])}
    assert runner.closed == ["pool", "people"]


def test_an_unknown_phase_is_refused_before_anything_runs():
    runner = Recorder()

    with pytest.raises(ValueError, match="through: one of prepare, applicants"):
        runner.run(through="letters")
    assert runner.ran == []
