"""The solver dependency's settings from the service config."""
from types import SimpleNamespace

from services.evaluation.adapters.solver_provider import SolverProvider


def _solver(config: dict):
    provider = SolverProvider()
    provider.container = SimpleNamespace(config={"ASSIGNMENT_SOLVER": config})
    provider.setup()
    return provider.solver


def test_no_new_round_starts_after_half_the_timeout_unless_told_otherwise():
    # a solve that runs to the timeout is killed with nothing to show: stopping rounds
    # at half of it leaves time to finish the last one and answer with its gap
    assert _solver({}).options.time_limit == 300
    assert _solver({"timeout": 90}).options.time_limit == 45
    assert _solver({"timeout": 90, "time_limit": 20}).options.time_limit == 20
    assert _solver({"time_limit": None}).options.time_limit is None
    assert _solver({"candidates": 12}).options.candidates == 12
