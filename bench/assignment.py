"""Benchmark of the optimal expert assignment on a synthetic call.

    python bench/assignment.py --proposals 10124 --experts 5680 --k 3 [--seed 7]

The instance is drawn from a mixture of latent themes, so affinities are structured the
way real ones are: each theme has its own words and integration areas; a proposal's
abstract and an expert's keywords are drawn from a sparse mixture of themes. Consortia
and experts come from a pool of organisations sized for about 1 % same-organisation
conflicts; a few declared conflicts are added; loads leave about 25 % slack so the
instance is feasible. The solve goes through the real pipeline (TF-IDF affinities, min-cost
flow, certification against the full problem).

Progress lines go to stdout; the LAST line is one JSON object: ``seconds`` (conflict
rules + solve; the synthetic text's generation and the solver's libraries' import are timed
apart, ``read_s`` and ``import_s``: the service's solver child imports them when a topic
closes, before its solve is asked for; with ``--isolated`` the solve's own child imports
them inside ``seconds``), ``total_affinity``, ``objective``,
``bound``, ``gap``, ``violations`` (conflicts assigned + overloads + proposals without
exactly k evaluators, checked independently of the solver: must be 0), phase timings and
peak memory (with ``--isolated``, ``peak_rss_together_mb``: this process and the solver's
child sampled together, as a container counts the service and its child).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.procstat import PeakTogether  # noqa: E402
from services.evaluation.adapters.solver import (  # noqa: E402
    AffinityModel, SolverOptions, preload, solve_assignment)
from services.evaluation.adapters.solver_worker import solve_assignment_isolated  # noqa: E402
from services.evaluation.domain.affinity import AffinityWeights, ImportedScores  # noqa: E402
from services.evaluation.domain.assignment import (  # noqa: E402
    AssignmentProblem, ProposalToAssign, violations)
from services.evaluation.domain.conflicts import (  # noqa: E402
    Consortium, Participant, conflict_pairs)
from services.evaluation.domain.experts import Expert  # noqa: E402
from services.evaluation.domain.pairs import PairSet  # noqa: E402
from shared.calls.model import Criterion, EvaluationRules  # noqa: E402

THEMES = 40
WORDS_PER_THEME = 60
BACKGROUND_WORDS = 400
AREAS = 12
TOPICS = tuple(f"AMIF-2018-AG-INTE-{i}" for i in range(1, 6))
ABSTRACT_WORDS = 120
KEYWORDS = 8
# the call's evaluation rules matter here only for their conflict rules (same_organisation)
_BENCH_RULES = EvaluationRules(3, (Criterion("c", "c", Decimal(10)),), Decimal(5), ("c",))
ORGANISATIONS = 500  # consortia of 3..8 out of 500 organisations: ~1.1 % conflicts
INSTANCE_SCALE = 1000  # an instance's pair is worth round(1000 x affinity)


def _zipf_cdf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1)
    return np.cumsum(weights) / weights.sum()


def _draw_themes(rng: np.random.Generator, mixtures: np.ndarray, draws: int) -> np.ndarray:
    """``draws`` theme indices per row, each row from its own mixture."""
    cdf = np.cumsum(mixtures, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random((len(mixtures), draws))
    return np.minimum((u[:, :, None] > cdf[:, None, :]).sum(axis=2), THEMES - 1)


def _theme_words(rng: np.random.Generator, themes: np.ndarray) -> np.ndarray:
    """A word id for each theme draw: Zipf within the theme's own words."""
    rank = np.searchsorted(_zipf_cdf(WORDS_PER_THEME), rng.random(themes.shape))
    return themes * WORDS_PER_THEME + np.minimum(rank, WORDS_PER_THEME - 1)


def _areas(mixtures: np.ndarray, top: int) -> list[tuple[str, ...]]:
    """Integration areas of a profile: those of its ``top`` strongest themes."""
    strongest = np.argsort(-mixtures, axis=1)[:, :top]
    return [tuple(sorted({f"area-{t % AREAS}" for t in row})) for row in strongest.tolist()]


def generate(n_proposals: int, n_experts: int, k: int, seed: int):
    """Synthetic proposals and experts (no conflicts computed yet)."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"th{t}w{w}" for t in range(THEMES) for w in range(WORDS_PER_THEME)]
                     + [f"common{w}" for w in range(BACKGROUND_WORDS)])
    p_mix = rng.dirichlet(np.full(THEMES, 0.1), n_proposals)
    words = _theme_words(rng, _draw_themes(rng, p_mix, ABSTRACT_WORDS))
    background = rng.random(words.shape) < 0.3
    common = THEMES * WORDS_PER_THEME + np.minimum(
        np.searchsorted(_zipf_cdf(BACKGROUND_WORDS), rng.random(words.shape)),
        BACKGROUND_WORDS - 1)
    words = np.where(background, common, words)
    sizes = rng.integers(3, 9, n_proposals)
    orgs = [rng.choice(ORGANISATIONS, size, replace=False) for size in sizes]
    p_areas = _areas(p_mix, 2)
    dominant = p_mix.argmax(axis=1)
    proposals = tuple(
        ProposalToAssign(id=f"P-{i}", topic=TOPICS[dominant[i] % len(TOPICS)],
                         integration_areas=p_areas[i], abstract=" ".join(vocab[words[i]]),
                         consortium=tuple(f"ORG-{o}" for o in orgs[i]))
        for i in range(n_proposals))

    e_mix = rng.dirichlet(np.full(THEMES, 0.05), n_experts)
    keywords = _theme_words(rng, _draw_themes(rng, e_mix, KEYWORDS))
    e_areas = _areas(e_mix, 3)
    active = rng.random(n_experts) >= 0.01
    base = math.ceil(1.25 * n_proposals * k / max(int(active.sum()), 1))
    loads = base + rng.integers(0, 3, n_experts)
    e_orgs = rng.integers(0, ORGANISATIONS, n_experts)
    countries = rng.integers(0, 27, n_experts)
    experts = tuple(
        Expert(id=f"E-{j}", name=f"Expert {j}", email=f"e{j}@example.org",
               country=f"C{countries[j]}", organisation_id=f"ORG-{e_orgs[j]}",
               expertise_areas=e_areas[j],
               keywords=tuple(dict.fromkeys(vocab[keywords[j]].tolist())),
               max_load=int(loads[j]), active=bool(active[j]))
        for j in range(n_experts))
    n_declared = n_experts // 10
    declared = {(f"E-{e}", f"P-{p}") for e, p in zip(rng.integers(0, n_experts, n_declared),
                                                       rng.integers(0, n_proposals, n_declared))}
    return proposals, experts, declared


def same_organisation_pairs(proposals, experts) -> frozenset[tuple[str, str]]:
    """The conflicts the service would compute: :func:`conflict_pairs` (the one source of
    conflict pairs, which joins each rule's keys rather than asking 57 million pairs) over
    consortia made of the generated organisation ids."""
    consortia = [Consortium(p.id, tuple(Participant(org, "") for org in p.consortium))
                 for p in proposals]
    return conflict_pairs(experts, consortia, _BENCH_RULES)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mb() -> dict:
    # the children's figure is at least this process's size when it started the child
    # (Linux counts the parent's address space, shared until exec); solver_peak_rss_mb
    # is the child's own
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_children_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


# ------------------------------------------------------------------------ instance files
class InstanceError(ValueError):
    """An instance file that cannot be read: names the array and the rule."""


def read_instance(path: str) -> dict:
    """The arrays of an instance file, checked: ``affinity`` (float, proposals x experts,
    in [0, 1]), ``conflicts`` (int pairs (proposal, expert)), ``max_load`` (int >= 0 per
    expert), ``k`` (int scalar >= 1)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InstanceError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [n for n in ("affinity", "conflicts", "max_load", "k") if n not in arrays]
    if missing:
        raise InstanceError(f"{path}: array(s) {', '.join(missing)} missing "
                            f"(an instance has affinity, conflicts, max_load and k)")
    affinity, conflicts = arrays["affinity"], arrays["conflicts"]
    max_load, k = arrays["max_load"], arrays["k"]
    if affinity.ndim != 2 or affinity.dtype.kind != "f":
        raise InstanceError(f"affinity: must be a 2-D float array (proposals x experts), "
                            f"got {affinity.dtype} with shape {affinity.shape}")
    if affinity.size and not (np.isfinite(affinity).all() and affinity.min() >= 0
                              and affinity.max() <= 1):
        raise InstanceError("affinity: every value must be a number within [0, 1]")
    n_p, n_e = affinity.shape
    if conflicts.size == 0:
        conflicts = np.zeros((0, 2), dtype=np.int64)
    if conflicts.dtype.kind not in "iu" or conflicts.ndim != 2 or conflicts.shape[1] != 2:
        raise InstanceError(f"conflicts: must be an int array of (proposal, expert) pairs, "
                            f"shape (n, 2), got {conflicts.dtype} with shape {conflicts.shape}")
    if conflicts.size and (conflicts.min() < 0 or conflicts[:, 0].max() >= n_p
                           or conflicts[:, 1].max() >= n_e):
        raise InstanceError(f"conflicts: every pair must name a proposal in 0..{n_p - 1} "
                            f"and an expert in 0..{n_e - 1}")
    if max_load.dtype.kind not in "iu" or max_load.shape != (n_e,):
        raise InstanceError(f"max_load: must be an int array with one value per expert "
                            f"({n_e}), got {max_load.dtype} with shape {max_load.shape}")
    if max_load.size and max_load.min() < 0:
        raise InstanceError("max_load: every value must be >= 0")
    if k.dtype.kind not in "iu" or k.size != 1 or int(k.reshape(-1)[0]) < 1:
        raise InstanceError(f"k: must be one int >= 1, got {k.dtype} with shape {k.shape}")
    return {"affinity": affinity, "conflicts": conflicts.astype(np.int64),
            "max_load": max_load.astype(np.int64), "k": int(k.reshape(-1)[0])}


def instance_problem(arrays: dict, load_penalty: int | None) -> AssignmentProblem:
    """The problem an instance describes, as the service's solver path takes it: the
    affinities are imported scores covering every pair, on a scale of 1000 with no
    area signal, so each pair is worth round(1000 x affinity)."""
    n_p, n_e = arrays["affinity"].shape
    p_ids = [f"P-{i:07d}" for i in range(n_p)]  # zero-padded: id order is file order
    e_ids = [f"E-{j:07d}" for j in range(n_e)]
    experts = tuple(Expert(id=e_ids[j], name=e_ids[j], email=f"e{j}@example.org",
                           country="BE", organisation_id=f"ORG-{j}", expertise_areas=(),
                           max_load=int(load))
                    for j, load in enumerate(arrays["max_load"].tolist()))
    proposals = tuple(ProposalToAssign(id=p, topic="instance") for p in p_ids)
    pairs = arrays["conflicts"]
    extra = {} if load_penalty is None else {"load_penalty": load_penalty}
    return AssignmentProblem(
        proposals, experts, arrays["k"],
        conflicts=PairSet(e_ids, p_ids, pairs[:, 1], pairs[:, 0]),
        weights=AffinityWeights(areas=0, text=1, scale=INSTANCE_SCALE),
        imported=ImportedScores.dense(p_ids, e_ids, arrays["affinity"]), **extra)


def write_instance(path: str, problem: AssignmentProblem) -> None:
    """Dump ``problem`` as an instance file: the affinities the solver computes (TF-IDF
    and areas) divided by 1000, its conflicts (and pairs refused), loads (0 for an
    inactive expert) and k. Needs 4 bytes per pair (float32 is exact enough: 1000 x a
    rounds back to the same integer)."""
    model = AffinityModel(problem)
    rows, cols = np.arange(len(problem.proposals)), np.arange(len(problem.experts))
    affinity = np.empty((len(rows), len(cols)), dtype=np.float32)
    for start in range(0, len(rows), 1024):
        block = model.block(rows[start:start + 1024], cols)
        affinity[start:start + len(block)] = block / np.float32(problem.weights.scale)
    p_pos, e_pos = problem.blocked.positions()
    np.savez_compressed(
        path, affinity=affinity, conflicts=np.stack([p_pos, e_pos], axis=1).astype(np.int32),
        max_load=np.array([e.max_load if e.active else 0 for e in problem.experts],
                          dtype=np.int32),
        k=np.array(problem.evaluators_per_proposal, dtype=np.int32))


def instance_figures(arrays: dict, problem: AssignmentProblem, pairs) -> dict:
    """``objective`` (sum of round(1000 x affinity)) and ``total_affinity`` (sum of the
    affinities) over the assigned pairs, computed from the file, not by the solver."""
    p_pos = {p.id: i for i, p in enumerate(problem.proposals)}
    e_pos = {e.id: j for j, e in enumerate(problem.experts)}
    rows = np.array([p_pos[p] for _, p in pairs], dtype=np.int64)
    cols = np.array([e_pos[e] for e, _ in pairs], dtype=np.int64)
    values = arrays["affinity"][rows, cols].astype(np.float64)
    return {"objective": int(np.rint(values * INSTANCE_SCALE).sum()),
            "total_affinity": round(float(values.sum()), 6)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, help="size of a generated call")
    parser.add_argument("--experts", type=int, help="size of a generated pool")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instance", metavar="FILE.npz",
                        help="solve this instance file instead of a generated call (arrays "
                             "affinity, conflicts, max_load, k)")
    parser.add_argument("--write-instance", metavar="FILE.npz",
                        help="also write the generated call as an instance file")
    parser.add_argument("--candidates", type=int, default=SolverOptions.candidates)
    parser.add_argument("--max-rounds", type=int, default=SolverOptions.max_rounds,
                        help="column-generation rounds; fewer may end with a gap > 0")
    parser.add_argument("--load-penalty", type=int, default=None,
                        help="points the j-th assignment of one expert costs times (j - 1) "
                             "(default: the service's); 0 maximises affinity alone")
    parser.add_argument("--isolated", action="store_true",
                        help="solve in the child process, as the service does")
    args = parser.parse_args(argv)
    if args.instance is None and (args.proposals is None or args.experts is None):
        parser.error("give --proposals and --experts, or --instance FILE.npz")
    if args.instance is not None and args.write_instance is not None:
        parser.error("--write-instance writes a generated call; it cannot go with --instance")

    started = time.perf_counter()
    if args.instance is not None:
        try:
            arrays = read_instance(args.instance)
        except InstanceError as exc:
            print(f"error: instance {exc}", file=sys.stderr)
            return 2
        described = f"instance {args.instance}"
    else:
        proposals, experts, declared = generate(args.proposals, args.experts, args.k, args.seed)
        described = f"generated call (seed {args.seed})"
    generated = time.perf_counter() - started
    print(f"read {described} in {generated:.1f} s", flush=True)

    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    if args.instance is not None:
        problem = instance_problem(arrays, args.load_penalty)
    else:
        conflicts = same_organisation_pairs(proposals, experts) | declared
        extra = {} if args.load_penalty is None else {"load_penalty": args.load_penalty}
        problem = AssignmentProblem(proposals, experts, args.k, conflicts=conflicts, **extra)
    built = time.perf_counter() - started
    cpu_built = _cpu_seconds() - cpu_before
    n_conflicts = len(problem.conflicts)
    share = n_conflicts / max(len(problem.proposals) * len(problem.experts), 1)
    print(f"{len(problem.proposals)} proposals, {len(problem.experts)} experts, "
          f"k {problem.evaluators_per_proposal}; conflicts: {n_conflicts} pairs "
          f"({share:.2%}) in {built:.1f} s", flush=True)
    if args.write_instance is not None:
        write_instance(args.write_instance, problem)
        print(f"wrote {args.write_instance}", flush=True)

    options = SolverOptions(candidates=args.candidates, max_rounds=args.max_rounds)
    started = time.perf_counter()
    if not args.isolated:
        # the service's solver child imports these before its solve is asked for
        # (solver_warm: started when a topic closes); timed apart, not in "seconds"
        preload()
    imported = time.perf_counter() - started
    print(f"libraries imported in {imported:.1f} s", flush=True)
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    together = None
    if args.isolated:
        with PeakTogether(os.getpid()) as together:
            result = solve_assignment_isolated(problem, options)
    else:
        result = solve_assignment(problem, options,
                                  progress=lambda line: print(f"  {line}", flush=True))
    cpu = _cpu_seconds() - cpu_before + cpu_built
    solved = time.perf_counter() - started
    print(f"solve: {result.status} in {solved:.1f} s, objective {result.objective}, "
          f"bound {result.bound}", flush=True)
    for line in result.diagnosis + ((result.error,) if result.error else ()):
        print(f"  {line}", flush=True)

    found = violations(problem, result.pairs) if result.ok else ["no assignment"]
    print(f"checked: {len(found)} violations", flush=True)
    if args.instance is not None:
        figures = instance_figures(arrays, problem, result.pairs)
    else:  # the generated call's affinities are integers on the scale of 1000 already
        figures = {"objective": result.total_affinity,
                   "total_affinity": result.total_affinity / problem.weights.scale}
    summary = {
        "proposals": len(problem.proposals), "experts": len(problem.experts),
        "k": problem.evaluators_per_proposal, "instance": args.instance,
        "seed": None if args.instance else args.seed, "status": result.status,
        "proven_optimal": result.status == "optimal" and result.bound == result.objective,
        "seconds": round(built + solved, 3),
        "cpu_seconds": round(cpu, 3),  # this process and its children: robust to other load
        **figures,  # objective: sum of round(1000 x affinity) over the assigned pairs
        "load_penalty": problem.load_penalty, "load_cost": result.load_cost,
        "penalised_objective": result.objective,  # what the solver maximises
        "bound": result.bound, "gap": result.gap, "violations": len(found),
        "conflict_pairs": n_conflicts,
        "timings": {"read_s": round(generated, 3), "import_s": round(imported, 3),
                    "conflicts_s": round(built, 3),
                    "wall_solve_s": round(solved, 3),
                    **{key: round(v, 3) for key, v in result.stats.items()
                       if key.endswith("_s")}},
        "rounds": result.stats.get("rounds"), "arcs": result.stats.get("arcs"),
        # the solve's own peak (with --isolated, the child's, as the service runs it)
        "solver_peak_rss_mb": round(result.stats.get("peak_rss_mb", 0.0), 1),
        # with --isolated, this process (holding the problem, as the service does) and
        # the child sampled together: what a container's memory limit counts
        "peak_rss_together_mb": together and round(together.peak_mb, 1),
        **_peak_mb(),
    }
    print(json.dumps(summary))
    return 0 if result.ok and not found else 1


if __name__ == "__main__":
    sys.exit(main())
