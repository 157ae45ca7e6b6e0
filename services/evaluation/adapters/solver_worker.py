"""Child process that runs one assignment solve: JSON problem on stdin, JSON result on
stdout (``python -m services.evaluation.adapters.solver_worker``).

Started by :func:`services.evaluation.adapters.solver.solve_assignment_isolated`, so that
an abort inside OR-Tools kills this process and not the evaluation service. An exception
in Python is reported as an ``error`` result (exit status 0, traceback on stderr); only a
crash leaves the parent without an answer, which it reports itself.
"""
from __future__ import annotations

import json
import sys
import traceback

from services.evaluation.adapters.solver import (
    PROTOCOL, SolverOptions, decode_problem, encode_result, solve_assignment)
from services.evaluation.domain.assignment import AssignmentResult


def run(raw: bytes) -> dict:
    """Solve the request in ``raw`` and return the reply document."""
    try:
        request = json.loads(raw)
        if request.get("protocol") != PROTOCOL:
            raise ValueError(f"unsupported protocol {request.get('protocol')!r}")
        result = solve_assignment(decode_problem(request["problem"]),
                                  SolverOptions(**request.get("options", {})))
    except Exception as exc:  # noqa: BLE001 - any failure must become an answer
        traceback.print_exc(file=sys.stderr)
        result = AssignmentResult("error", error=f"{type(exc).__name__}: {exc}")
    return {"protocol": PROTOCOL, "result": encode_result(result)}


def main() -> int:
    reply = run(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
