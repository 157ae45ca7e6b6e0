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
rules + solve, synthetic text generation excluded), ``total_affinity``, ``objective``,
``bound``, ``gap``, ``violations`` (conflicts assigned + overloads + proposals without
exactly k evaluators, checked independently of the solver: must be 0), phase timings and
peak memory.
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from decimal import Decimal

import numpy as np

from services.evaluation.adapters.solver import SolverOptions, solve_assignment
from services.evaluation.adapters.solver_worker import solve_assignment_isolated
from services.evaluation.domain.assignment import (
    AssignmentProblem, ProposalToAssign, violations)
from services.evaluation.domain.conflicts import Consortium, Participant, conflict_pairs
from services.evaluation.domain.experts import Expert
from shared.calls.model import Criterion, EvaluationRules

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
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_children_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, required=True)
    parser.add_argument("--experts", type=int, required=True)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--candidates", type=int, default=SolverOptions.candidates)
    parser.add_argument("--max-rounds", type=int, default=SolverOptions.max_rounds,
                        help="column-generation rounds; fewer may end with a gap > 0")
    parser.add_argument("--load-penalty", type=int, default=None)
    parser.add_argument("--isolated", action="store_true",
                        help="solve in the child process, as the service does")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    proposals, experts, declared = generate(args.proposals, args.experts, args.k, args.seed)
    generated = time.perf_counter() - started
    print(f"generated {len(proposals)} proposals, {len(experts)} experts in {generated:.1f} s",
          flush=True)

    started = time.perf_counter()
    conflicts = same_organisation_pairs(proposals, experts) | declared
    extra = {} if args.load_penalty is None else {"load_penalty": args.load_penalty}
    problem = AssignmentProblem(proposals, experts, args.k, conflicts=conflicts,
                                **extra)
    built = time.perf_counter() - started
    share = len(conflicts) / (len(proposals) * len(experts))
    print(f"conflicts: {len(conflicts)} pairs ({share:.2%}) in {built:.1f} s", flush=True)

    options = SolverOptions(candidates=args.candidates, max_rounds=args.max_rounds)
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    if args.isolated:
        result = solve_assignment_isolated(problem, options)
    else:
        result = solve_assignment(problem, options,
                                  progress=lambda line: print(f"  {line}", flush=True))
    cpu = _cpu_seconds() - cpu_before
    solved = time.perf_counter() - started
    print(f"solve: {result.status} in {solved:.1f} s, objective {result.objective}, "
          f"bound {result.bound}, stats {json.dumps(result.stats)}", flush=True)
    for line in result.diagnosis + ((result.error,) if result.error else ()):
        print(f"  {line}", flush=True)

    found = violations(problem, result.pairs) if result.ok else ["no assignment"]
    loads = np.bincount([int(e[2:]) for e, _ in result.pairs], minlength=len(experts))
    print(f"checked: {len(found)} violations; load min/mean/max over active experts "
          f"{loads[[e.active for e in experts]].min()}/"
          f"{loads[[e.active for e in experts]].mean():.2f}/{loads.max()}", flush=True)
    summary = {
        "proposals": len(proposals), "experts": len(experts), "k": args.k,
        "seed": args.seed, "status": result.status,
        "seconds": round(built + solved, 3),
        "cpu_seconds": round(cpu, 3),  # this process and its children: robust to other load
        "total_affinity": result.total_affinity, "objective": result.objective,
        "bound": result.bound, "gap": result.gap, "violations": len(found),
        "load_cost": result.load_cost, "conflict_pairs": len(conflicts),
        "timings": {"generate_s": round(generated, 3), "conflicts_s": round(built, 3),
                    "wall_solve_s": round(solved, 3),
                    **{key: round(v, 3) for key, v in result.stats.items()
                       if key.endswith("_s")}},
        "rounds": result.stats.get("rounds"), "arcs": result.stats.get("arcs"),
        **_peak_mb(),
    }
    print(json.dumps(summary))
    return 0 if result.ok and not found else 1


if __name__ == "__main__":
    sys.exit(main())
