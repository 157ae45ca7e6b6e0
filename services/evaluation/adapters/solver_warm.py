"""The solver child, started ahead of its solve and kept running between small ones.

Every conflict or decline in a report round asks for a repair solve. A fresh child process
costs 1.5 to 2 s of CPU before it solves anything (importing NumPy, SciPy, OR-Tools and
scikit-learn); at 10,000 proposals the repair children of a report round took about half of
one of the machine's two cores. :class:`WarmWorker` keeps one child (``solver_worker
--serve``) and sends it one request after another, so that cost is paid once. The child is
started ahead (:meth:`WarmWorker.start_ahead`: when a topic closes, and again after a child
is let go), so that the call's first assignment does not wait for the imports either.

A big problem (:class:`.solver_provider.Solver` decides) is solved by the same child, which
is then let go (``keep=False``): it gives back the memory the solve took, as a child of its
own would, and the next child is started at once. The isolation stays what
:func:`.solver_worker.solve_assignment_isolated` gives: OR-Tools aborting, a hung solve
(stopped after ``timeout``) or an unreadable answer cost one ``error`` result and that
child; the next solve starts another.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import threading

from services.evaluation.adapters.solver import SolverOptions
from services.evaluation.adapters.solver_worker import (
    UNREADABLE, WORKER_MODULE, child_environment, decode_reply, error_result, exit_reason,
    killed_after, request_blocks, request_document, stderr_tail)
from services.evaluation.domain.assignment import AssignmentProblem, AssignmentResult


class WarmWorker:
    """One long-lived solver child; :meth:`solve` is safe to call from several threads
    (one solve at a time)."""

    def __init__(self, command: list[str] | None = None):
        self.argv = command or [sys.executable, "-m", WORKER_MODULE, "--serve"]
        self._child: subprocess.Popen | None = None
        self._stderr = None
        self._lock = threading.Lock()
        self.started = 0  # children started so far (a test reads it)

    def start_ahead(self) -> None:
        """Start the child now if none runs, without waiting for it (its imports go on
        in it); a solve under way (the lock held) has its child already."""
        if self._lock.acquire(blocking=False):
            try:
                self._start_quietly()
            finally:
                self._lock.release()

    def solve(self, problem: AssignmentProblem, options: SolverOptions,
              timeout: float, keep: bool = True) -> AssignmentResult:
        """``keep=False``: let the child go after this solve (a big one: its memory goes
        back to the system) and start the next one."""
        with self._lock:
            result = self._solve(problem, options, timeout)
            if not keep and self._child is not None:
                self._discard()
                self._start_quietly()
            return result

    def _start_quietly(self) -> None:
        """The child, started if none runs (the lock held); a child that cannot start is
        started again by the solve that needs it, which says why."""
        try:
            self._running()
        except OSError:
            pass

    def _solve(self, problem: AssignmentProblem, options: SolverOptions,
               timeout: float) -> AssignmentResult:
        request = request_document(problem, options)
        try:
            child = self._running()
        except OSError as exc:
            return error_result(f"solver could not be started: {exc}")
        with killed_after(child, timeout) as stopped:
            try:
                for block in request_blocks(request):  # its line, then its pairs
                    child.stdin.write(block)
                child.stdin.flush()
                # the child has it now: its lists and dicts (one per proposal and expert)
                # are not held through the solve (solve_assignment_isolated drops them too)
                del request
                answer = child.stdout.readline()
            except OSError:
                answer = b""
        if stopped.is_set():
            self._discard()
            return error_result(
                f"solver gave no answer within {timeout:g} s and was stopped")
        if not answer:
            return error_result(f"solver process {self._discard()}")
        try:
            return decode_reply(answer)
        except UNREADABLE as exc:
            detail = self._discard()
            return error_result(f"solver returned an unreadable answer ({exc}); it {detail}")

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._discard()

    def _running(self) -> subprocess.Popen:
        if self._child is not None and self._child.poll() is None:
            return self._child
        if self._child is not None:
            self._discard()
        self._stderr = tempfile.TemporaryFile()
        self._child = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=self._stderr,
                                       env=child_environment())
        self.started += 1
        return self._child

    def _discard(self) -> str:
        """Stop the child (if it still runs) and forget it; how it ended, for people."""
        child, self._child = self._child, None
        for pipe in (child.stdin, child.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        self._stderr.seek(0)
        tail = stderr_tail(self._stderr.read())
        self._stderr.close()
        return f"{exit_reason(code)}{tail}"
