"""The solver child started ahead and kept running between solves (solver_warm.WarmWorker):
the answers of a child of its own, one child for many solves, imports done before the first
request, a big solve's child let go and the next started, and a dead, hung or babbling child
is one ``error`` result after which the next solve starts another."""
import sys
import time
from unittest.mock import ANY

from nameko.testing.services import worker_factory

from services.evaluation.adapters.solver import SolverOptions, solve_assignment
from services.evaluation.adapters.solver_provider import Solver
from services.evaluation.adapters.solver_warm import WarmWorker
from services.evaluation.adapters.solver_worker import WORKER_MODULE
from services.evaluation.handlers.events import on_deadline_closed
from services.evaluation.service import EvaluationService
from tests.support.evaluation_events import deadline_closed

from .test_assignment_support import random_problem

OPTIONS = SolverOptions(candidates=1)


def same(a, b) -> bool:
    return (a.status, a.pairs, a.new_pairs, a.objective, a.bound, a.diagnosis) == \
        (b.status, b.pairs, b.new_pairs, b.objective, b.bound, b.diagnosis)


def test_one_child_answers_many_solves_as_in_process():
    warm = WarmWorker()
    try:
        for seed in range(4):
            problem = random_problem(seed)
            assert same(warm.solve(problem, OPTIONS, timeout=120),
                        solve_assignment(problem, OPTIONS))
        assert warm.started == 1
    finally:
        warm.close()


def test_a_child_that_died_between_solves_is_replaced():
    warm = WarmWorker()
    try:
        assert warm.solve(random_problem(1), OPTIONS, timeout=120).status != "error"
        warm._child.kill()
        warm._child.wait()
        again = warm.solve(random_problem(2), OPTIONS, timeout=120)
        assert same(again, solve_assignment(random_problem(2), OPTIONS))
        assert warm.started == 2
    finally:
        warm.close()


def test_a_child_that_crashes_on_a_problem_is_one_error():
    code = "import os, sys; sys.stdin.buffer.readline(); os.abort()"
    warm = WarmWorker([sys.executable, "-c", code])
    result = warm.solve(random_problem(1), OPTIONS, timeout=60)
    assert result.status == "error" and result.error == "solver process was killed by SIGABRT"
    assert warm._child is None  # the next solve starts another


def test_a_hung_child_is_stopped_after_the_timeout():
    code = "import sys, time; sys.stdin.buffer.readline(); time.sleep(60)"
    warm = WarmWorker([sys.executable, "-c", code])
    result = warm.solve(random_problem(1), OPTIONS, timeout=0.5)
    assert result.status == "error"
    assert result.error == "solver gave no answer within 0.5 s and was stopped"
    assert warm._child is None


def test_a_babbling_child_is_an_error_naming_what_it_said():
    code = ("import sys; sys.stdin.buffer.readline(); sys.stderr.write('warned'); "
            "print('not json', flush=True)")
    warm = WarmWorker([sys.executable, "-c", code])
    result = warm.solve(random_problem(1), OPTIONS, timeout=60)
    assert result.status == "error" and "unreadable answer" in result.error
    assert "warned" in result.error


def test_small_problems_keep_the_child_a_big_one_lets_it_go_and_starts_the_next():
    problem = random_problem(1)
    expected = solve_assignment(problem, OPTIONS)
    small = Solver(OPTIONS, warm_max_proposals=len(problem.proposals))
    big = Solver(OPTIONS, warm_max_proposals=len(problem.proposals) - 1)
    try:
        small.prepare()
        big.prepare()
        small_child, big_child = small.warm._child, big.warm._child
        assert same(small.solve(problem), expected)
        assert same(big.solve(problem), expected)
        assert small.warm._child is small_child and small_child.poll() is None  # kept
        assert big_child.wait(timeout=30) == 0  # let go: the memory it took is back
        assert big.warm._child.poll() is None  # the next one, started at once
        assert (small.warm.started, big.warm.started) == (1, 2)
        assert WORKER_MODULE in small.warm.argv
    finally:
        small.warm.close()
        big.warm.close()


def _mapped(pid: int, name: str) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return any(name in line for line in maps)


def test_a_child_started_ahead_imports_what_a_solve_needs_before_it_is_asked():
    """Its solve then does not wait for scikit-learn (1 to 1.4 s here), which the solve
    used to import on its way."""
    warm = WarmWorker()
    try:
        warm.start_ahead()
        child = warm._child
        give_up = time.monotonic() + 120  # a bound for a broken child, not a measurement
        while not _mapped(child.pid, "sklearn"):  # its compiled modules, while it waits
            assert child.poll() is None and time.monotonic() < give_up
            time.sleep(0.05)
        warm.start_ahead()  # one is running: nothing more starts
        assert same(warm.solve(random_problem(1), OPTIONS, timeout=120),
                    solve_assignment(random_problem(1), OPTIONS))
        assert warm._child is child and warm.started == 1
    finally:
        warm.close()


def test_the_service_starts_the_solver_child_when_a_topic_with_proposals_closes():
    service = worker_factory(EvaluationService)
    event = deadline_closed(["P-1"])
    service.on_deadline_closed(event)
    service.uow.consume.assert_called_once_with(event, on_deadline_closed, ANY)
    service.solver.prepare.assert_called_once_with()

    service.solver.prepare.reset_mock()
    service.on_deadline_closed(deadline_closed([]))  # nobody submitted: nothing to assign
    service.solver.prepare.assert_not_called()


def test_prepare_starts_no_child_for_a_solver_in_process_or_one_with_its_own_command():
    for solver in (Solver(OPTIONS, isolated=False),
                   Solver(OPTIONS, command=[sys.executable, "-c", "pass"])):
        solver.prepare()
        assert solver.warm.started == 0 and solver.warm._child is None
