"""The assignment solver as a nameko dependency: each solve runs in a child process
(:func:`.solver_worker.solve_assignment_isolated`), so an abort inside OR-Tools, a runaway solve
or an out-of-memory kill costs one ``error`` result, never the service.

Config key ``ASSIGNMENT_SOLVER``: ``timeout`` (seconds, default 600), ``candidates``,
``max_rounds``, ``time_limit`` (default half the timeout; null: none), ``threads`` (see
:class:`.solver.SolverOptions`),
``isolated`` (default
true; false solves in the service process, for debugging only), ``command`` (the worker's
command line, each solve in a child of its own: tests replace it with one that crashes),
``warm_max_proposals`` (default 2,000: the child of :mod:`.solver_warm`, started ahead,
stays after a problem of at most this many proposals, a repair or a small topic; after a
bigger one it is let go, giving back the memory the solve took, and the next is started;
0 lets it go after every solve).

One solve at a time per process (``lock``): the machine's cores are better spent on one
solve than shared by two that would mostly redo each other's work.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from nameko.extensions import DependencyProvider

from services.evaluation.adapters.solver import SolverOptions, solve_assignment
from services.evaluation.adapters.solver_warm import WarmWorker
from services.evaluation.adapters.solver_worker import solve_assignment_isolated
from services.evaluation.domain.assignment import AssignmentProblem, AssignmentResult


@dataclass
class Solver:
    """What handlers use: ``solve(problem)`` and the per-process ``lock``."""

    options: SolverOptions = field(default_factory=SolverOptions)
    timeout: float = 600.0
    isolated: bool = True
    command: list[str] | None = None
    warm_max_proposals: int = 2000
    warm: WarmWorker = field(default_factory=WarmWorker)
    # threading.Lock is green under eventlet's monkey patch (nameko run patches first)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def solve(self, problem: AssignmentProblem) -> AssignmentResult:
        if not self.isolated:
            return solve_assignment(problem, self.options)
        if self.command is not None:
            return solve_assignment_isolated(problem, self.options, timeout=self.timeout,
                                             command=self.command)
        return self.warm.solve(problem, self.options, self.timeout,
                               keep=len(problem.proposals) <= self.warm_max_proposals)

    def prepare(self) -> None:
        """A solve is coming (a topic closed): start the solver's child now, so that its
        imports (1.5 to 2 s of CPU) are done before the assignment asks."""
        if self.isolated and self.command is None:
            self.warm.start_ahead()


class SolverProvider(DependencyProvider):
    def setup(self):
        config = dict(self.container.config.get("ASSIGNMENT_SOLVER") or {})
        options = {k: config.pop(k) for k in ("candidates", "max_rounds", "time_limit",
                                               "threads") if k in config}
        timeout = float(config.get("timeout", 600))
        # no new round after half the timeout: a call too large to prove optimal in time
        # gets its best assignment so far with its gap, where the child stopped at the
        # timeout gave none (a 100,000-proposal call's rounds take minutes each)
        options.setdefault("time_limit", timeout / 2)
        self.solver = Solver(SolverOptions(**options), timeout=timeout,
                             isolated=bool(config.get("isolated", True)),
                             command=config.get("command"),
                             warm_max_proposals=int(config.get("warm_max_proposals", 2000)))

    def stop(self):
        self.solver.warm.close()

    def get_dependency(self, worker_ctx):
        return self.solver
