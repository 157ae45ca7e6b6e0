"""The solver's child process, and the parent side that talks to it.

The evaluation service talks to one child kept running (``--serve``,
:mod:`.solver_warm`); :func:`solve_assignment_isolated` runs one solve in a child of its own
(a solver ``command`` given in the config, the benchmark's ``--isolated``). Either starts
``python -m services.evaluation.adapters.solver_worker``, writes the problem to its stdin
(one line of JSON, then the pair sets' codes as raw bytes: :func:`request_blocks`) and
reads the result as JSON from its stdout, under a timeout. OR-Tools has been
seen to abort the whole process on some inputs; here that kills the child only, and a
dead, hung or babbling child becomes an ``error`` result, never an exception or a dead
service. :mod:`subprocess` (not multiprocessing) because the service runs under
eventlet's monkey patch, which makes the pipes cooperative: other green threads run while
the child works.

In the child, an exception in Python is reported as an ``error`` result (exit status 0,
traceback on stderr); only a real crash leaves the parent without an answer.
"""
from __future__ import annotations

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

from services.evaluation.adapters.solver import (SolverOptions, canonical, preload,
                                                 solve_assignment)
from services.evaluation.domain.affinity import AffinityWeights, ImportedScores
from services.evaluation.domain.assignment import (
    AssignmentProblem, AssignmentResult, ProposalToAssign)
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet

WORKER_MODULE = "services.evaluation.adapters.solver_worker"
PROTOCOL = 4  # bumped when the wire form changes

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
    """``document`` on the wire, in blocks of about ``size`` bytes: one line of JSON (the
    same text as ``json.dumps(document)`` but for the pair sets, which it announces by
    count and type), then each pair set's codes as raw bytes (:class:`PackedCodes`), in
    the order the line announces them. Nothing is held whole: at a 38,000 x 30,000
    topic the JSON request was 185 MB, and as one string and its bytes it added 0.37 GB
    to the caller's peak beside the problem it already held."""
    pending, held, packed = [], 0, []
    for piece in _json_pieces(document, depth, packed):
        pending.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(pending).encode("ascii")
            pending, held = [], 0
    pending.append("\n")  # JSON text has no raw line break: the line ends here
    yield "".join(pending).encode("ascii")
    for codes in packed:
        yield from codes.pieces()


def _json_pieces(value, depth: int, packed: list):
    """JSON text of ``value`` piece by piece: objects and arrays down to ``depth`` levels
    are opened, each value below is one ``json.dumps`` (ASCII, as by default); a
    :class:`PackedCodes` is written as its announcement and appended to ``packed``."""
    if isinstance(value, PackedCodes):
        packed.append(value)
        yield json.dumps(value.announcement())
    elif depth and isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield (", " if i else "") + json.dumps(str(key)) + ": "
            yield from _json_pieces(item, depth - 1, packed)
        yield "}"
    elif depth and isinstance(value, (list, tuple)):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _json_pieces(item, depth - 1, packed)
        yield "]"
    elif isinstance(value, str) and len(value) > _LONG_TEXT:
        # a long text escaped a slice at a time (escaping is per character, so the
        # slices' escapes join into the whole's)
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
    """The wire form of a problem (the worker's input): JSON-ready but for the pair sets
    (:class:`PackedCodes`), which :func:`request_blocks` sends as raw bytes after the
    JSON line.

    Conflicted and excluded pairs travel as their codes (``proposal position *
    len(experts) + expert position``, sorted), the array the solver works on, as it is in
    memory. As JSON lists of numbers, the 12.5 million conflicted pairs of a 38,000 x
    30,000 topic made the caller's peak 0.67 GB higher and the child's 0.9 GB; as base64
    text of their two positions (the previous protocol), the 33 million of a 100,000 x
    30,000 call were 0.35 GB of text that the child read, decoded and parsed before a
    single pair was an integer again, its largest peak (1.06 and 1.49 GB in two probes);
    as bytes the child reads them straight into the array it keeps. Pairs
    naming someone not in the problem are dropped: they cannot affect the solve. Kept
    pairs travel by id, so the worker can still report a kept pair that names an
    unknown party.

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
        "conflicts": _packed(problem, problem.conflicts),
        "excluded": _packed(problem, problem.excluded),
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
    """Inverse of :func:`encode_problem`, on a request as :func:`read_request` gives it
    (the pair sets' codes read into arrays, which the problem's pair sets then hold as
    they are, after checking them: :meth:`.pairs.PairSet.of_codes`).

    The JSON parser makes a new string for every occurrence of a topic, an area, an
    organisation or a language (about a million at 100,000 proposals, held for the whole
    solve); they are shared here, one object per distinct value."""
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
        codes = data[key]
        if not isinstance(codes, np.ndarray):
            raise ValueError(f"{key}: the pairs' codes did not come with the request")
        return PairSet.of_codes([e.id for e in experts], [p.id for p in proposals], codes)

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


def _packed(problem: AssignmentProblem, pairs) -> "PackedCodes":
    """``pairs`` as codes in the problem's order: with the problem's own id tables the
    pair set's array itself, not a copy (:meth:`.pairs.PairSet.codes_in`)."""
    return PackedCodes(PairSet.of(pairs).codes_in([e.id for e in problem.experts],
                                                  [p.id for p in problem.proposals]))


class PackedCodes:
    """A pair set's codes on the wire: announced in the JSON line by count and type
    (``{"packed_codes": n, "dtype": "<u4"}``), sent after it as little-endian bytes, a
    slice of :data:`_PACK_SLICE` codes at a time (no copy of the array exists whole)."""

    def __init__(self, codes: np.ndarray):
        self.codes = codes
        self.wire_type = codes.dtype.newbyteorder("<")

    def announcement(self) -> dict:
        return {"packed_codes": int(self.codes.size), "dtype": self.wire_type.str}

    def pieces(self):
        for at in range(0, self.codes.size, _PACK_SLICE):
            yield self.codes[at:at + _PACK_SLICE].astype(self.wire_type, copy=False).tobytes()


_PACK_SLICE = 1 << 20  # codes written at once
#: the types codes come in (:func:`.pairs.compact_codes`), as announced on the wire
_CODE_TYPES = ("<u4", "<i8")


def read_request(stream) -> dict | None:
    """The next request on ``stream`` (binary), None at its end: the JSON line, with
    each pair set it announces read from the bytes after it into an array of the
    announced type, in its place. Raises ValueError on a request it cannot read whole;
    the stream is then out of step (a serving child stops there)."""
    line = stream.readline()
    if not line:
        return None
    # decoded first and let go: json.loads(bytes) would hold both beside what it parses
    text = line.decode("utf-8")
    del line
    request = json.loads(text)
    del text
    problem = request.get("problem") if isinstance(request, dict) else None
    if isinstance(problem, dict):
        # the sizes bound every count: codes are below len(proposals) * len(experts)
        limit = len(problem.get("proposals") or ()) * len(problem.get("experts") or ())
        for key, value in list(problem.items()):
            if isinstance(value, dict) and "packed_codes" in value:
                problem[key] = _read_codes(stream, key, value, limit)
    return request


def _read_codes(stream, key: str, announced: dict, limit: int) -> np.ndarray:
    count, wire = announced.get("packed_codes"), announced.get("dtype")
    if wire not in _CODE_TYPES:
        raise ValueError(f"{key}: codes of type {wire!r}, not one of {', '.join(_CODE_TYPES)}")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= limit:
        raise ValueError(f"{key}: {count!r} codes announced, not a count from 0 to {limit} "
                         f"(proposals x experts)")
    codes = np.empty(count, dtype=np.dtype(wire))
    view, got = memoryview(codes).cast("B"), 0
    while got < len(view):
        read = stream.readinto(view[got:])
        if not read:
            raise ValueError(f"{key}: the request ended after {got} of the {len(view)} "
                             f"bytes of its codes")
        got += read
    return codes.astype(codes.dtype.newbyteorder("="), copy=False)  # native order


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
def run(stream) -> dict:
    """Read the next request on ``stream`` and solve it; the reply document (never
    raises)."""
    return _answer(stream)[0]


def _answer(stream) -> tuple[dict, bool]:
    """(the reply to the next request on ``stream``, whether the stream is still in step:
    after a request that could not be read whole, the next one's start is unknown)."""
    try:
        request = read_request(stream)
        if request is None:
            raise ValueError("no request: the input ended")
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        traceback.print_exc(file=sys.stderr)
        return _reply(AssignmentResult("error", error=f"{type(exc).__name__}: {exc}")), False
    try:
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
    return _reply(result), True


def _reply(result: AssignmentResult) -> dict:
    return {"protocol": PROTOCOL, "result": encode_result(result)}


def main() -> int:
    """One request on stdin, its reply on stdout; with ``--serve``, one request after
    another and one reply per line until stdin closes (:mod:`.solver_warm`), or until
    a request could not be read whole."""
    stdin = sys.stdin.buffer
    preload()  # before the request: a child started ahead is ready when it comes
    if "--serve" in sys.argv[1:]:
        while stdin.peek(1):
            reply, in_step = _answer(stdin)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            if not in_step:
                return 1
        return 0
    sys.stdout.write(json.dumps(run(stdin)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
