"""bench/assignment.py with instance files: a generated call written with
--write-instance and solved back with --instance gives the same optimum; a hand-made
instance's optimum is the brute-force one; bad files are refused naming the array."""
import itertools
import json

import numpy as np
import pytest

from .test_assignment_solver import bench_module


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = bench_module().main([str(a) for a in argv])
    out = capsys.readouterr()
    last = out.out.strip().splitlines()[-1] if out.out.strip() else ""
    return code, (json.loads(last) if last.startswith("{") else None), out.err


def test_a_written_instance_solves_back_to_the_generated_optimum(tmp_path, capsys):
    path = tmp_path / "call.npz"
    code, generated, _ = run(capsys, "--proposals", 120, "--experts", 40, "--k", 3,
                             "--seed", 3, "--write-instance", path)
    assert code == 0 and generated["proven_optimal"] and generated["violations"] == 0
    code, solved, _ = run(capsys, "--instance", path)
    assert code == 0 and solved["proven_optimal"] and solved["violations"] == 0
    # the optimum's value is unique; how it splits into affinity and load cost need not be
    for key in ("penalised_objective", "bound", "conflict_pairs"):
        assert solved[key] == generated[key], key
    for figures in (solved, generated):
        assert figures["objective"] - figures["load_cost"] == figures["penalised_objective"]
        assert figures["total_affinity"] == pytest.approx(figures["objective"] / 1000)
    with np.load(path) as data:
        assert data["affinity"].shape == (120, 40) and int(data["k"]) == 3


def test_an_instance_optimum_is_the_brute_force_one(tmp_path, capsys):
    rng = np.random.default_rng(5)
    affinity = rng.random((4, 5))
    affinity[0, 0] = 0.0025  # rounds half to even: 2
    conflicts = np.array([[0, 1], [2, 3], [3, 0]])
    max_load, k = np.array([2, 1, 2, 1, 2]), 2
    path = tmp_path / "tiny.npz"
    np.savez(path, affinity=affinity, conflicts=conflicts, max_load=max_load, k=k)
    code, solved, _ = run(capsys, "--instance", path, "--load-penalty", 0)
    assert code == 0 and solved["proven_optimal"]
    forbidden = {tuple(pair) for pair in conflicts.tolist()}
    best = None
    options = [[combo for combo in itertools.combinations(range(5), k)
                if not any((p, e) in forbidden for e in combo)] for p in range(4)]
    for choice in itertools.product(*options):
        loads = np.bincount([e for combo in choice for e in combo], minlength=5)
        if (loads <= max_load).all():
            value = sum(round(1000 * affinity[p, e]) for p, combo in enumerate(choice)
                        for e in combo)
            best = value if best is None else max(best, value)
    assert solved["objective"] == solved["penalised_objective"] == solved["bound"] == best


@pytest.mark.parametrize("arrays,message", [
    (dict(affinity=np.full((2, 2), 1.5)), "affinity: every value must be a number within [0, 1]"),
    (dict(affinity=np.ones((2, 2), dtype=np.int64)), "affinity: must be a 2-D float array"),
    (dict(conflicts=np.array([[0, 5]])), "conflicts: every pair must name a proposal in 0..1 "
                                         "and an expert in 0..1"),
    (dict(conflicts=np.array([0, 1])), "conflicts: must be an int array of (proposal, expert)"),
    (dict(max_load=np.array([1, 2, 3])), "max_load: must be an int array with one value per "
                                          "expert (2)"),
    (dict(max_load=np.array([1, -1])), "max_load: every value must be >= 0"),
    (dict(k=np.array(0)), "k: must be one int >= 1"),
    (dict(k=None), "array(s) k missing"),
])
def test_a_bad_instance_is_refused_naming_the_array_and_the_rule(tmp_path, capsys, arrays,
                                                                   message):
    good = dict(affinity=np.full((2, 2), 0.5), conflicts=np.zeros((0, 2), dtype=np.int64),
                max_load=np.array([2, 2]), k=np.array(1))
    path = tmp_path / "bad.npz"
    np.savez(path, **{name: value for name, value in {**good, **arrays}.items()
                      if value is not None})
    code, solved, err = run(capsys, "--instance", path)
    assert code == 2 and solved is None and message in err


def test_a_file_that_is_not_an_instance_is_refused(tmp_path, capsys):
    path = tmp_path / "notes.npz"
    path.write_text("not a zip")
    code, _, err = run(capsys, "--instance", path)
    assert code == 2 and "not a readable .npz file" in err


def test_an_isolated_solve_reports_this_process_and_its_child_together(capsys):
    # what a container's memory limit counts of the evaluation service and its solver
    # child; a solve in this process has no child to add
    args = ("--proposals", 300, "--experts", 100, "--k", 3, "--seed", 4)
    code, isolated, _ = run(capsys, *args, "--isolated")
    assert code == 0 and isolated["proven_optimal"]
    with open("/proc/self/status") as status:
        resident = next(int(line.split()[1]) / 1024 for line in status
                        if line.startswith("VmRSS:"))
    assert isolated["peak_rss_together_mb"] >= 0.9 * resident
    code, in_process, _ = run(capsys, *args)
    assert code == 0 and in_process["peak_rss_together_mb"] is None
