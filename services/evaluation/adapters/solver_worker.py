"""The solver's child process, and the parent side that talks to it.

:func:`solve_assignment_isolated` is what the evaluation service calls: it starts
``python -m services.evaluation.adapters.solver_worker``, writes the problem as JSON to
its stdin and reads the result as JSON from its stdout, under a timeout. OR-Tools has been
seen to abort the whole process on some inputs; here that kills the child only, and a
dead, hung or babbling child becomes an ``error`` result, never an exception or a dead
service. :mod:`subprocess` (not multiprocessing) because the service runs under
eventlet's monkey patch, which makes the pipes cooperative: other green threads run while
the child works.

In the child, an exception in Python is reported as an ``error`` result (exit status 0,
traceback on stderr); only a real crash leaves the parent without an answer.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import asdict, fields

import numpy as np

from services.evaluation.adapters.solver import SolverOptions, canonical, solve_assignment
from services.evaluation.domain.affinity import AffinityWeights, ImportedScores
from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, ProposalToAssign)
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet

WORKER_MODULE = "services.evaluation.adapters.solver_worker"
PROTOCOL = 3  # bumped when the wire form changes

#: glibc allocator settings for the child. After a large block is freed glibc raises its
#: mmap threshold (up to 32 MiB), so the affinity pass's later blocks (temporaries of 15
#: to 60 MB, two threads at a time) come from the heap, whose freed space the process
#: keeps: at a 38,000 x 30,000 topic that was 0.15 GB of the child's peak. A fixed
#: threshold gives every block of 4 MiB or more its own mapping, returned when freed;
#: two arenas for the solver's two threads. An operator's own values win.
CHILD_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20), "MALLOC_ARENA_MAX": "2"}


def child_environment() -> dict[str, str]:
    """The environment a solver child starts with: this process's, plus
    :data:`CHILD_MALLOC` where it does not set them."""
    return {**CHILD_MALLOC, **os.environ}


# ------------------------------------------------------------------------ parent side
def solve_assignment_isolated(problem: AssignmentProblem,
                              options: SolverOptions = SolverOptions(), *,
                              timeout: float = 600.0,
                              command: list[str] | None = None) -> AssignmentResult:
    """Solve in a child process; any failure of the child becomes an ``error`` result.

    ``command`` replaces the worker command line (tests use it to simulate crashes).
    The request is written as it is encoded (:func:`request_blocks`); the timeout covers
    the whole exchange, writing included (a child that stops reading is killed too).
    """
    request = request_document(problem, options)
    argv = command or [sys.executable, "-m", WORKER_MODULE]
    try:
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=child_environment())
    except OSError as exc:
        return error_result(f"solver could not be started: {exc}")
    with child, killed_after(child, timeout) as stopped:
        try:
            try:
                for block in request_blocks(request):
                    child.stdin.write(block)
            except OSError:
                pass  # the child is gone: its exit status below says how
            del request
            stdout, stderr = child.communicate()
        except Exception as exc:  # noqa: BLE001 - any failure must become a result
            child.kill()
            child.communicate()
            return error_result(f"talking to the solver process failed: {exc!r}")
    if stopped.is_set():
        return error_result(f"solver gave no answer within {timeout:g} s and was stopped")
    if child.returncode != 0:
        return error_result(f"solver process {exit_reason(child.returncode)}{stderr_tail(stderr)}")
    try:
        return decode_reply(stdout)
    except UNREADABLE as exc:
        return error_result(f"solver returned an unreadable answer ({exc}){stderr_tail(stderr)}")


def request_document(problem: AssignmentProblem, options: SolverOptions) -> dict:
    """What a solver child is sent: the problem's wire form and the options."""
    return {"protocol": PROTOCOL, "problem": encode_problem(problem), "options": asdict(options)}


@contextmanager
def killed_after(child: subprocess.Popen, timeout: float):
    """Kill ``child`` if the block has not ended within ``timeout`` seconds; yields the
    event that tells afterwards whether it was. threading.Timer is green under
    eventlet's monkey patch, as the pipes are."""
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        child.kill()

    timer = threading.Timer(timeout, stop)
    timer.start()
    try:
        yield stopped
    finally:
        timer.cancel()


def request_blocks(document: dict, size: int = 1 << 20, depth: int = 3):
    """``document`` as JSON bytes, in blocks of about ``size``: the same text as
    ``json.dumps(document).encode()`` without holding it whole. At a 38,000 x 30,000
    topic the request is 185 MB; as one string and its bytes it added 0.37 GB to the
    caller's peak beside the problem it already held."""
    pending, held = [], 0
    for piece in _json_pieces(document, depth):
        pending.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(pending).encode("ascii")
            pending, held = [], 0
    if pending:
        yield "".join(pending).encode("ascii")


def _json_pieces(value, depth: int):
    """JSON text of ``value`` piece by piece: objects and arrays down to ``depth`` levels
    are opened, each value below is one ``json.dumps`` (ASCII, as by default)."""
    if isinstance(value, PackedPositions):
        yield '"'  # base64 needs no escaping
        yield from value.pieces()
        yield '"'
    elif depth and isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield (", " if i else "") + json.dumps(str(key)) + ": "
            yield from _json_pieces(item, depth - 1)
        yield "}"
    elif depth and isinstance(value, (list, tuple)):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _json_pieces(item, depth - 1)
        yield "]"
    elif isinstance(value, str) and len(value) > _LONG_TEXT:
        # the packed pairs are one text of 67 MB at scale: escaped a slice at a time
        # (escaping is per character, so the slices' escapes join into the whole's)
        yield '"'
        for start in range(0, len(value), _LONG_TEXT):
            yield json.dumps(value[start:start + _LONG_TEXT])[1:-1]
        yield '"'
    else:
        yield json.dumps(value)


_LONG_TEXT = 1 << 18  # characters of a text escaped at once


#: what :func:`decode_reply` raises on an answer it cannot read
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError)


def decode_reply(raw: bytes) -> AssignmentResult:
    """The result in a worker's reply document (raises one of :data:`UNREADABLE`)."""
    reply = json.loads(raw)
    if reply.get("protocol") != PROTOCOL:
        raise ValueError(f"protocol {reply.get('protocol')!r}")
    return decode_result(reply["result"])


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def stderr_tail(stderr: bytes, limit: int = 400) -> str:
    text = stderr.decode(errors="replace").strip()
    return f": {text[-limit:]}" if text else ""


def error_result(message: str) -> AssignmentResult:
    return AssignmentResult("error", error=message)


# ------------------------------------------------------------------------ wire form
def encode_problem(problem: AssignmentProblem) -> dict:
    """The wire form of a problem (the worker's input): JSON-ready but for the packed
    pairs (:class:`PackedPositions`), which :func:`request_blocks` writes as JSON
    strings a slice at a time.

    Conflicted and excluded pairs travel as two arrays of positions in
    ``proposals``/``experts``, each as the base64 text of its 32-bit little-endian
    integers. A topic of 38,000 proposals and 30,000 experts (the largest
    of a 100,000-proposal call) has about 12.5 million conflicted pairs: as JSON lists of
    numbers they were two Python lists of 12.5 million ints on each side of the pipe, and
    the caller's peak memory was 0.67 GB higher, the child's 0.9 GB
    (``bench/assignment.py --isolated``). Pairs naming someone not in the problem are
    dropped: they cannot affect the solve. Kept pairs travel by id, so the worker can
    still report a kept pair that names an unknown party.

    Proposals and experts travel in the solver's order (by id, :func:`.solver.canonical`):
    the child's pair sets then have the problem's own id tables, and the solver uses
    their arrays as they are instead of mapping 10^7 pairs into another order (a copy,
    and 0.3 GB more at the child's peak for a 38,000 x 30,000 topic).
    """
    problem = canonical(problem)
    return {
        "proposals": [{name: getattr(p, name) for name in _SOLVED_PROPOSAL_FIELDS}
                      for p in problem.proposals],
        "experts": [_fields(e) for e in problem.experts],
        "evaluators_per_proposal": problem.evaluators_per_proposal,
        "conflicts": _positions(problem, problem.conflicts),
        "excluded": _positions(problem, problem.excluded),
        "fixed": sorted(problem.fixed),
        "load_penalty": problem.load_penalty,
        "weights": asdict(problem.weights),
        "imported": _imported(problem),
    }


_EXPERT_TUPLES = ("expertise_areas", "keywords", "languages")
#: what the solver reads of a proposal. Its consortium stays with the caller: the conflict
#: rules read it there, and their pairs travel instead (at 100,000 proposals, 0.4 million
#: organisation ids the child held for nothing)
_SOLVED_PROPOSAL_FIELDS = ("id", "topic", "integration_areas", "abstract")


def decode_problem(data: dict) -> AssignmentProblem:
    """Inverse of :func:`encode_problem`; takes the packed pairs' texts out of ``data``
    as it decodes them.

    The JSON parser makes a new string for every occurrence of a topic, an area, an
    organisation or a language (about a million at 100,000 proposals, held for the whole
    solve); they are shared here, one object per distinct value. Each packed text goes
    as soon as its positions are out: at 100,000 x 30,000 the two texts of the
    conflicts are 0.33 GB, and held to the end they made this the child's peak."""
    shared: dict[str, str] = {}

    def name(value: str) -> str:
        return shared.setdefault(value, value)

    def names(values) -> tuple[str, ...]:
        return tuple(map(name, values))

    proposals = tuple(
        ProposalToAssign(**{**p, "topic": name(p["topic"]),
                            "integration_areas": names(p["integration_areas"])})
        for p in data["proposals"])
    experts = tuple(Expert(**{**e, **{key: names(e[key]) for key in _EXPERT_TUPLES}})
                    for e in data["experts"])

    def pairs(key):
        e_ids, p_ids = [e.id for e in experts], [p.id for p in proposals]
        packed = data[key]
        return PairSet(e_ids, p_ids, _unpacked(packed.pop("experts"), len(e_ids)),
                       _unpacked(packed.pop("proposals"), len(p_ids)))

    return AssignmentProblem(
        proposals=proposals, experts=experts,
        evaluators_per_proposal=data["evaluators_per_proposal"],
        conflicts=pairs("conflicts"), excluded=pairs("excluded"),
        fixed=frozenset((e, p) for e, p in data["fixed"]),
        load_penalty=data["load_penalty"], weights=AffinityWeights(**data["weights"]),
        imported=_decode_imported(data.get("imported"), proposals, experts))


def _fields(record) -> dict:
    # shallow on purpose: asdict() deep-copies every tuple of every record
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _positions(problem: AssignmentProblem, pairs) -> dict:
    """Both sides of ``pairs`` as packed positions in the problem's order, packed from
    the pairs' codes a slice at a time: with the problem's own id tables the pair set's
    array is read as it is, and no 32-bit copy of either side exists whole (they were
    0.5 GB at the caller's peak for 31 million pairs)."""
    e_ids, p_ids = [e.id for e in problem.experts], [p.id for p in problem.proposals]
    codes = PairSet.of(pairs).codes_in(e_ids, p_ids)
    width = max(len(e_ids), 1)
    return {"experts": PackedPositions(codes, lambda part: part % width),
            "proposals": PackedPositions(codes, lambda part: part // width)}


#: positions on the wire: 32-bit little-endian (a pool or a topic far below 2**31)
_WIRE_INT = np.dtype("<i4")


class PackedPositions:
    """Positions as base64 text of 32-bit little-endian integers (4 bytes each, 5.3
    characters in base64, against about 6 characters and a 28-byte Python int each as
    a JSON list): ``values`` themselves, or ``positions_of`` each slice of them.

    Written into the request a slice of :data:`_PACK_SLICE` integers at a time
    (:func:`request_blocks`): a multiple of 3 integers is a whole number of base64
    quanta, so the slices' texts join without padding between them, and neither the
    32-bit copy nor the text of millions of pairs exists whole on the sender's side (the
    two texts of a 100,000 x 30,000 call's conflicts were 0.33 GB of the request)."""

    def __init__(self, values: np.ndarray, positions_of=None):
        self.values, self.positions_of = np.asarray(values), positions_of

    def pieces(self):
        for at in range(0, len(self.values), _PACK_SLICE):
            part = self.values[at:at + _PACK_SLICE]
            if self.positions_of is not None:
                part = self.positions_of(part)
            yield base64.b64encode(part.astype(_WIRE_INT).tobytes()).decode("ascii")

    def text(self) -> str:
        """The whole text at once (a few pairs)."""
        return "".join(self.pieces())


_PACK_SLICE = 3 << 16  # integers per slice, a multiple of 3


def _unpacked(text: str, size: int) -> np.ndarray:
    """Inverse of :class:`PackedPositions`, as 32-bit positions; a position outside
    ``range(size)`` is refused (ValueError), so a garbled request cannot index past the
    problem's tables. Decoded a slice at a time into the result: the text's bytes, the
    decoded bytes and a 64-bit copy of 31 million positions were 0.8 GB at the child's
    peak."""
    if len(text) % 4:
        raise ValueError(f"packed positions of {len(text)} characters: not whole base64")
    padding = len(text[-2:]) - len(text[-2:].rstrip("="))  # the last quantum's '='s
    n_bytes = len(text) // 4 * 3 - padding
    if n_bytes % _WIRE_INT.itemsize:
        raise ValueError(f"packed positions of {n_bytes} bytes: not whole 32-bit integers")
    positions = np.empty(n_bytes // _WIRE_INT.itemsize, dtype=np.int32)
    step = _PACK_SLICE // 3 * 16  # characters of _PACK_SLICE integers (a multiple of 4)
    at = 0
    for start in range(0, len(text), step):
        raw = base64.b64decode(text[start:start + step].encode("ascii"), validate=True)
        part = np.frombuffer(raw, dtype=_WIRE_INT)
        positions[at:at + len(part)] = part
        at += len(part)
    if at != positions.size:
        raise ValueError(f"packed positions decode to {at} integers, not {positions.size}")
    if positions.size and (positions.min() < 0 or positions.max() >= size):
        raise ValueError(f"packed position outside 0..{size - 1}")
    return positions


def _imported(problem: AssignmentProblem) -> dict | None:
    """Imported scores by position (dense: the matrix in problem order)."""
    imported = problem.imported
    if imported is None:
        return None
    p_ids, e_ids = [p.id for p in problem.proposals], [e.id for e in problem.experts]
    matrix = imported.dense_for(p_ids, e_ids)
    if matrix is not None:
        return {"matrix": np.asarray(matrix, dtype=np.float64).tolist()}
    rows, cols, scores = imported.positions(p_ids, e_ids)
    return {"proposals": rows.tolist(), "experts": cols.tolist(), "scores": scores.tolist()}


def _decode_imported(data: dict | None, proposals, experts) -> ImportedScores | None:
    if data is None:
        return None
    p_ids, e_ids = [p.id for p in proposals], [e.id for e in experts]
    if "matrix" in data:
        return ImportedScores.dense(p_ids, e_ids, np.array(data["matrix"], dtype=np.float64)
                                    .reshape(len(p_ids), len(e_ids)))
    return ImportedScores(p_ids, e_ids, data["proposals"], data["experts"], data["scores"])


def encode_result(result: AssignmentResult) -> dict:
    """JSON-ready form of a result (the worker's output)."""
    return {**asdict(result), "pairs": [list(p) for p in result.pairs],
            "new_pairs": [list(p) for p in result.new_pairs], "stats": dict(result.stats)}


def decode_result(data: dict) -> AssignmentResult:
    """Inverse of :func:`encode_result`; raises on a malformed answer."""
    if data["status"] not in ("optimal", "feasible", "infeasible", "error"):
        raise ValueError(f"unknown status {data['status']!r}")
    return AssignmentResult(
        status=data["status"],
        pairs=tuple((str(e), str(p)) for e, p in data["pairs"]),
        new_pairs=tuple((str(e), str(p)) for e, p in data["new_pairs"]),
        total_affinity=int(data["total_affinity"]), load_cost=int(data["load_cost"]),
        objective=int(data["objective"]),
        bound=None if data["bound"] is None else int(data["bound"]),
        gap=None if data["gap"] is None else float(data["gap"]),
        diagnosis=tuple(str(m) for m in data["diagnosis"]), error=str(data["error"]),
        stats=dict(data["stats"]))


# ------------------------------------------------------------------------ child side
def run(raw: bytes | str) -> dict:
    """Solve the request in ``raw`` and return the reply document (never raises)."""
    try:
        request = json.loads(raw)
        # neither the request's bytes nor its parsed document is needed while solving:
        # at a 38,000 x 30,000 topic they were 0.2 GB of the child's peak
        del raw
        if request.get("protocol") != PROTOCOL:
            raise ValueError(f"unsupported protocol {request.get('protocol')!r}")
        options = SolverOptions(**request.get("options", {}))
        # the problem is handed over, not kept here: the solver drops the abstracts once
        # its text model is built (0.1 GB at 100,000 proposals), which a reference in
        # this frame would prevent
        result = solve_assignment(decode_problem(request.pop("problem")), options)
    except Exception as exc:  # noqa: BLE001 - any failure must become an answer
        traceback.print_exc(file=sys.stderr)
        result = AssignmentResult("error", error=f"{type(exc).__name__}: {exc}")
    return {"protocol": PROTOCOL, "result": encode_result(result)}


def main() -> int:
    """One request on stdin, its reply on stdout; with ``--serve``, one request per line
    and one reply per line until stdin closes (:mod:`.solver_warm`)."""
    if "--serve" in sys.argv[1:]:
        for line in sys.stdin.buffer:
            sys.stdout.write(json.dumps(run(line)) + "\n")
            sys.stdout.flush()
        return 0
    # read as text: json.loads(bytes) holds the bytes and their decoded text at once
    # beside what it parses (0.45 GB each for a 95,000 x 30,000 problem)
    reply = run(sys.stdin.read())
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
