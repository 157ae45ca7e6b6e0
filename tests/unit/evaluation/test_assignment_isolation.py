"""The solver in a child process: same answers as in process, and a dead, hung or
babbling child is a clean ``error`` result, never an exception in the caller."""
import gc
import io
import json
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from unittest import mock
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from services.evaluation.adapters import solver_worker
from services.evaluation.adapters.solver import (SolverOptions, canonical, solve as solver_solve,
                                                 solve_assignment)
from services.evaluation.adapters.solver_worker import (
    PROTOCOL, decode_problem, decode_result, encode_problem, encode_result, read_request,
    request_blocks, solve_assignment_isolated)
from services.evaluation.domain.assignment import AssignmentProblem, ProposalToAssign
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet

from .test_assignment_support import random_problem


def written(document: dict) -> bytes:
    return b"".join(request_blocks(document))


def on_the_wire(prob) -> dict:
    """What a child reads of ``prob``: the wire form as request_blocks writes it and
    read_request reads it back."""
    return read_request(io.BytesIO(written({"problem": encode_problem(prob)})))["problem"]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


FEASIBLE_SEED = next(s for s in range(100) if solve_assignment(random_problem(s)).ok
                     and random_problem(s).fixed)
INFEASIBLE_SEED = next(s for s in range(100)
                       if solve_assignment(random_problem(s)).status == "infeasible")


def test_wire_forms_round_trip():
    prob = random_problem(FEASIBLE_SEED)
    assert decode_problem(on_the_wire(prob)) == prob
    stray = replace(prob, conflicts=prob.conflicts | {("E-404", "P-0"), ("E-0", "P-404")})
    assert decode_problem(on_the_wire(stray)) == prob
    result = solve_assignment(prob)
    again = decode_result(json.loads(json.dumps(encode_result(result))))
    assert (again.status, again.pairs, again.objective, again.bound) == \
        (result.status, result.pairs, result.objective, result.bound)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), JSON), st.integers(1, 64), st.integers(0, 4))
def test_the_request_written_in_blocks_is_the_documents_json(document, size, depth):
    blocks = list(request_blocks(document, size=size, depth=depth))
    assert b"".join(blocks) == json.dumps(document).encode() + b"\n"  # one line


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40), st.integers(1, 7))
def test_a_long_text_is_escaped_a_slice_at_a_time_into_its_json(text, slice_size):
    long = text * 9
    with mock.patch.object(solver_worker, "_LONG_TEXT", slice_size):
        assert b"".join(request_blocks({"t": [long]}, size=5)) == \
            json.dumps({"t": [long]}).encode() + b"\n"


def test_a_large_request_is_written_in_blocks_of_about_the_size_asked():
    wire = {"protocol": PROTOCOL, "problem": encode_problem(
        random_problem(FEASIBLE_SEED, max_proposals=40, max_experts=40))}
    blocks = list(request_blocks(wire, size=1024))
    assert len(blocks) > 3 and max(len(b) for b in blocks[:-1]) < 1024 + 2048


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 2), max_size=40, unique=True).map(sorted),
       st.sampled_from([np.uint32, np.int64]), st.sampled_from([1, 3, 1 << 20]))
def test_packed_codes_come_back_as_the_same_array_across_slices(codes, kind, per_slice):
    array = np.array(codes, dtype=kind)
    # 8 x 8 bounds the count (at most 40 codes), not the codes' values: the reader checks
    # the count only, so large codes travel in a small document
    document = {"problem": {"proposals": [None] * 8, "experts": [None] * 8,
                            "conflicts": solver_worker.PackedCodes(array), "after": 1}}
    with mock.patch.object(solver_worker, "_PACK_SLICE", per_slice):
        wire = written(document)
    line, rest = wire.split(b"\n", 1)
    assert json.loads(line)["problem"]["conflicts"] == {
        "packed_codes": len(codes), "dtype": np.dtype(kind).newbyteorder("<").str}
    assert rest == array.astype(np.dtype(kind).newbyteorder("<")).tobytes()  # raw, in order
    stream = io.BytesIO(wire + wire)  # two requests one after the other (a warm child)
    for _ in range(2):
        there = read_request(stream)["problem"]
        assert there["conflicts"].dtype == kind and there["conflicts"].tolist() == codes
        assert there["after"] == 1
    assert read_request(stream) is None  # the end of the input


@pytest.mark.parametrize("announced,rule", [
    ({"packed_codes": 3, "dtype": "<u4"}, "the request ended after 8 of the 12 bytes"),
    ({"packed_codes": 2, "dtype": ">u4"}, "codes of type '>u4'"),
    ({"packed_codes": 2, "dtype": "object"}, "codes of type 'object'"),
    ({"packed_codes": -1, "dtype": "<u4"}, "-1 codes announced"),
    ({"packed_codes": 10**12, "dtype": "<u4"}, "not a count from 0 to 4"),
    ({"packed_codes": "2", "dtype": "<u4"}, "'2' codes announced"),
])
def test_a_request_whose_codes_cannot_be_read_as_announced_is_refused(announced, rule):
    line = json.dumps({"problem": {"proposals": [1, 2], "experts": [1, 2],
                                   "conflicts": announced}}).encode()
    with pytest.raises(ValueError, match=rule):
        read_request(io.BytesIO(line + b"\n" + np.array([1, 2], "<u4").tobytes()))


def test_a_problem_travels_in_the_solvers_order_with_its_pairs_in_that_order():
    prob = random_problem(FEASIBLE_SEED, max_proposals=12, max_experts=12)
    backwards = replace(prob, proposals=prob.proposals[::-1], experts=prob.experts[::-1])
    there = decode_problem(on_the_wire(backwards))
    assert there == canonical(prob)
    # the child's pair set has the problem's own id tables: the solver takes its
    # array as it is (mapping 10^7 pairs into another order was a copy at the peak)
    e_ids, p_ids = [e.id for e in there.experts], [p.id for p in there.proposals]
    assert there.conflicts.codes_in(e_ids, p_ids) is there.conflicts.codes


def test_a_decoded_problem_holds_each_repeated_name_once():
    # the parser makes a string per occurrence; a million of them at 100,000 proposals
    prob = random_problem(FEASIBLE_SEED, max_proposals=12, max_experts=12)
    there = decode_problem(on_the_wire(prob))
    assert there == canonical(prob)
    names = [p.topic for p in there.proposals]
    names += [n for p in there.proposals for n in p.integration_areas + p.consortium]
    names += [n for e in there.experts for n in e.expertise_areas + e.keywords + e.languages]
    assert len(names) > len(set(names))  # the problem repeats some (else this shows nothing)
    assert len({id(n) for n in names}) == len(set(names))


def test_the_child_starts_with_allocator_settings_the_operator_may_override(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    said = ("os.environ.get('MALLOC_MMAP_THRESHOLD_', '-') + ' ' + "
            "os.environ.get('MALLOC_ARENA_MAX', '-')")
    reply = ("{'protocol': %d, 'result': {'status': 'error', 'pairs': [], 'new_pairs': [], "
             "'total_affinity': 0, 'load_cost': 0, 'objective': 0, 'bound': None, 'gap': None, "
             "'diagnosis': [], 'error': %s, 'stats': {}}}" % (PROTOCOL, said))
    code = f"import json, os, sys; sys.stdin.buffer.read(); sys.stdout.write(json.dumps({reply}))"
    result = solve_assignment_isolated(random_problem(1), command=python(code), timeout=60)
    assert result.error == "65536 2"  # the operator's threshold, the default arenas


def test_the_childs_peak_memory_is_its_own_not_its_parents():
    ballast = np.ones(400 << 17)  # 400 MB held (and touched) by this, the parent, process
    result = solve_assignment_isolated(random_problem(FEASIBLE_SEED), timeout=120)
    # getrusage in the child counts the parent's size at the start: 400 MB and more
    assert result.ok and 0 < result.stats["peak_rss_mb"] < 400
    del ballast


def test_pairs_travel_as_raw_codes_and_garbled_codes_are_refused():
    prob = random_problem(FEASIBLE_SEED)
    request = {"protocol": PROTOCOL, "problem": encode_problem(prob)}
    line, rest = written(request).split(b"\n", 1)
    # their bytes after the JSON line, 4 a pair (a 100,000 x 30,000 call has 33 million
    # conflicted pairs: as base64 text of their positions 0.35 GB for the child to parse)
    assert json.loads(line)["problem"]["conflicts"]["packed_codes"] == len(prob.conflicts)
    assert len(rest) == 4 * (len(prob.conflicts) + len(prob.excluded))
    limit = len(prob.proposals) * len(prob.experts)
    for garbled, rule in [
            (np.array([limit], np.uint32), "outside"),
            (np.array([5, 3], np.uint32), "not strictly increasing"),
            (np.array([3, 3], np.uint32), "not strictly increasing"),
            (np.array([1, 2], np.int64), "type int64"),
            (np.array([-1, 2], np.int64), "type int64")]:
        broken = {**request, "problem": {**request["problem"],
                                         "conflicts": solver_worker.PackedCodes(garbled)}}
        reply = solver_worker.run(io.BytesIO(written(broken)))
        result = decode_result(reply["result"])
        assert result.status == "error" and rule in result.error, result.error


@pytest.mark.parametrize("seed", [FEASIBLE_SEED, INFEASIBLE_SEED])
def test_the_worker_process_gives_the_in_process_answer(seed):
    prob = random_problem(seed)
    here = solve_assignment(prob, SolverOptions(candidates=1))
    there = solve_assignment_isolated(prob, SolverOptions(candidates=1), timeout=120)
    assert (there.status, there.pairs, there.new_pairs, there.objective, there.bound,
            there.diagnosis) == (here.status, here.pairs, here.new_pairs, here.objective,
                                 here.bound, here.diagnosis)


@pytest.mark.parametrize("code,expected", [
    ("import os; os.abort()", "solver process was killed by SIGABRT"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
     "solver process was killed by SIGKILL"),
    ("import sys; sys.stderr.write('Check failed: flow ok'); sys.exit(3)",
     "solver process exited with status 3: Check failed: flow ok"),
])
def test_a_dead_child_becomes_an_error_result(code, expected):
    result = solve_assignment_isolated(random_problem(1), command=python(code), timeout=60)
    assert result.status == "error" and not result.ok
    assert result.error == expected
    assert result.pairs == ()


@pytest.mark.parametrize("output", [
    "this is not json",
    json.dumps({"protocol": PROTOCOL + 1, "result": {}}),
    json.dumps({"protocol": PROTOCOL, "result": {"status": "optimal"}}),
    json.dumps({"protocol": PROTOCOL, "result": {"status": "splendid", "pairs": []}}),
    json.dumps([1, 2, 3]),
    "",
])
def test_a_garbled_answer_becomes_an_error_result(output):
    code = f"import sys; sys.stdin.buffer.read(); sys.stdout.write({output!r})"
    result = solve_assignment_isolated(random_problem(1), command=python(code), timeout=60)
    assert result.status == "error"
    assert result.error.startswith("solver returned an unreadable answer")


def test_a_hung_child_is_stopped_at_the_timeout():
    result = solve_assignment_isolated(random_problem(1), timeout=0.5,
                                       command=python("import time; time.sleep(30)"))
    assert result.status == "error"
    assert result.error == "solver gave no answer within 0.5 s and was stopped"


def test_a_child_that_cannot_start_becomes_an_error_result():
    result = solve_assignment_isolated(random_problem(1), command=["/nonexistent/python"])
    assert result.status == "error" and result.error.startswith("solver could not be started")


def test_the_worker_turns_a_python_failure_into_an_error_answer():
    reply = solver_worker.run(io.BytesIO(
        b'{"protocol": %d, "problem": {"proposals": "nonsense"}}\n' % PROTOCOL))
    assert reply["protocol"] == PROTOCOL
    result = decode_result(reply["result"])
    assert result.status == "error" and result.error.startswith("TypeError")
    for unreadable, kind in ((b"\x00garbage\n", "JSONDecodeError"),
                             (b"\xff\xfe\n", "UnicodeDecodeError"), (b"", "ValueError: no request")):
        result = decode_result(solver_worker.run(io.BytesIO(unreadable))["result"])
        assert result.status == "error" and result.error.startswith(kind), result.error


EVENTLET_SCRIPT = r"""
import eventlet
eventlet.monkey_patch()  # as the nameko service runs
import json, sys, time
sys.path.insert(0, sys.argv[1])
from evaluation.test_assignment_support import random_problem
from services.evaluation.adapters.solver_worker import solve_assignment_isolated
ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        eventlet.sleep(0.05)
eventlet.spawn(ticker)
hung = solve_assignment_isolated(random_problem(1), timeout=1,
                                 command=[sys.executable, "-c", "import time; time.sleep(30)"])
solved = solve_assignment_isolated(random_problem(1), timeout=120)
print(json.dumps({"hung": hung.error, "solved": solved.status, "ticks": len(ticks)}))
"""


def test_under_eventlet_a_timeout_is_an_error_result_and_the_hub_keeps_running():
    tests_unit = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", EVENTLET_SCRIPT, tests_unit],
                          capture_output=True, timeout=300, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["hung"] == "solver gave no answer within 1 s and was stopped"
    assert report["solved"] in ("optimal", "infeasible")
    assert report["ticks"] >= 15  # other green threads ran while the children worked


def _abstracts_alive() -> list[str]:
    return [o.abstract for o in gc.get_objects() if isinstance(o, ProposalToAssign) and o.abstract]


def _with_abstracts(seed: int) -> AssignmentProblem:
    prob = random_problem(seed)
    return replace(prob, proposals=tuple(replace(p, abstract=f"housing and language {p.id}")
                                         for p in prob.proposals))


def test_the_solver_child_lets_go_of_the_abstracts_once_its_text_model_is_built(monkeypatch):
    # at 100,000 proposals they were about 0.1 GB of the child's peak, held through the flow
    # solves; only the text model reads them
    seen = []
    optimise = solver_solve._optimise

    def watched(*args, **kwargs):
        seen.append(_abstracts_alive())
        return optimise(*args, **kwargs)

    monkeypatch.setattr(solver_solve, "_optimise", watched)
    raw = b"".join(request_blocks(
        solver_worker.request_document(_with_abstracts(FEASIBLE_SEED), SolverOptions())))
    assert not _abstracts_alive()  # the test itself holds none, only the request's text
    reply = solver_worker.run(io.BytesIO(raw))
    assert reply["result"]["status"] in ("optimal", "feasible")
    assert seen == [[]]
    # in process, a caller that hands the problem over gets the same (not in an assert
    # statement: pytest's rewriting keeps the argument for its message)
    result = solve_assignment(_with_abstracts(FEASIBLE_SEED))
    assert result.ok and seen[1:] == [[]]


def test_the_decoded_pair_set_holds_the_array_read_not_a_copy():
    # 33 million conflicted pairs are 0.13 GB in the child: read once, kept as read
    request = read_request(io.BytesIO(written({"problem": encode_problem(
        random_problem(FEASIBLE_SEED))})))
    read = request["problem"]["conflicts"]
    assert decode_problem(request["problem"]).conflicts.codes is read


def test_the_consortia_stay_with_the_caller():
    # the conflict rules read them before the solve; their pairs travel instead (at
    # 100,000 proposals, 0.4 million organisation ids the child held for nothing)
    prob = random_problem(FEASIBLE_SEED)
    with_consortia = replace(prob, proposals=tuple(
        replace(p, consortium=(f"PIC-{i}", f"PIC-{i}-2")) for i, p in enumerate(prob.proposals)))
    data = on_the_wire(with_consortia)
    assert all("consortium" not in p for p in data["proposals"])
    there = decode_problem(data)
    assert all(p.consortium == () for p in there.proposals)
    assert there == prob  # the random problem has none: the rest travels whole
    assert solve_assignment(there).pairs == solve_assignment(with_consortia).pairs


def test_the_request_never_holds_the_pairs_codes_twice():
    # the service holds the conflicts' array already (33 million codes, 0.13 GB at
    # 100,000 x 30,000): the request sends it from there a slice at a time, no copy whole
    n_p, n_e = 1000, 1000
    proposals = tuple(ProposalToAssign(f"P-{i:04d}", "T-1") for i in range(n_p))
    experts = tuple(Expert(f"E-{j:04d}", "N", f"e{j}@example.org", "BE", f"O-{j}", ("a",), 9)
                    for j in range(n_e))
    every = PairSet([e.id for e in experts], [p.id for p in proposals],
                    np.tile(np.arange(n_e), n_p), np.repeat(np.arange(n_p), n_e))
    prob = AssignmentProblem(proposals, experts, 1, conflicts=every)
    held = every.codes.nbytes  # 4 MB
    tracemalloc.start()
    try:
        with mock.patch.object(solver_worker, "_PACK_SLICE", 1 << 16):
            sent = sum(len(block) for block in request_blocks(
                solver_worker.request_document(prob, SolverOptions())))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent > held
    # measured 1.4 MB: a block of the JSON of 2,000 records as text and as bytes, and
    # one slice's bytes (with the codes' bytes made whole, 4 MB more)
    assert peak < held / 2, (peak, held)
