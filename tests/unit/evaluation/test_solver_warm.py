"""The solver child kept running between solves (solver_warm.WarmWorker): the answers of a
child of its own, one child for many solves, and a dead, hung or babbling child is one
``error`` result after which the next solve starts another."""
import sys

from services.evaluation.adapters.solver import SolverOptions, solve_assignment
from services.evaluation.adapters.solver_provider import Solver
from services.evaluation.adapters.solver_warm import WarmWorker
from services.evaluation.adapters.solver_worker import WORKER_MODULE

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


def test_small_problems_go_to_the_warm_child_big_ones_to_a_child_of_their_own():
    small = Solver(OPTIONS, warm_max_proposals=len(random_problem(1).proposals))
    big = Solver(OPTIONS, warm_max_proposals=len(random_problem(1).proposals) - 1)
    try:
        assert same(small.solve(random_problem(1)), solve_assignment(random_problem(1), OPTIONS))
        assert same(big.solve(random_problem(1)), solve_assignment(random_problem(1), OPTIONS))
        assert (small.warm.started, big.warm.started) == (1, 0)
        assert WORKER_MODULE in small.warm.argv
    finally:
        small.warm.close()
