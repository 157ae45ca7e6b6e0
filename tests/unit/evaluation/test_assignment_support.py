"""Factories and a brute-force optimum shared by the assignment tests (no tests here;
the name keeps it within the files the assignment work owns)."""
from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np

from services.evaluation.adapters.solver import AffinityModel
from services.evaluation.domain.assignment import (
    AssignmentProblem, ProposalToAssign, load_cost)
from services.evaluation.domain.experts import Expert

AREAS = ["housing", "labour", "education", "health", "language", "civic"]
WORDS = ("integration housing labour market language course school health migrant "
         "refugee children women network city region employment training mentoring "
         "volunteer municipality").split()


def expert(i, max_load=3, areas=(), keywords=(), active=True, org=None) -> Expert:
    return Expert(id=f"E-{i}", name=f"Expert {i}", email=f"e{i}@example.org", country="BE",
                  organisation_id=org or f"ORG-E{i}", expertise_areas=tuple(areas),
                  max_load=max_load, keywords=tuple(keywords), active=active)


def proposal(i, topic="T-1", areas=(), abstract="") -> ProposalToAssign:
    return ProposalToAssign(id=f"P-{i}", topic=topic, integration_areas=tuple(areas),
                            abstract=abstract)


def problem(proposals, experts, k=1, conflicts=(), **kw) -> AssignmentProblem:
    return AssignmentProblem(tuple(proposals), tuple(experts), k,
                             conflicts=frozenset(conflicts), **kw)


def random_problem(seed: int, max_proposals=4, max_experts=6) -> AssignmentProblem:
    """A small random instance; some are infeasible, some have kept pairs."""
    rng = random.Random(seed)
    n_p, n_e = rng.randint(1, max_proposals), rng.randint(1, max_experts)
    k = rng.randint(1, 2)
    proposals = [proposal(i, rng.choice(["T-1", "T-2"]), rng.sample(AREAS, rng.randint(0, 3)),
                          " ".join(rng.choices(WORDS, k=rng.randint(0, 20))))
                 for i in range(n_p)]
    experts = [expert(j, rng.randint(0, 3), rng.sample(AREAS, rng.randint(0, 3)),
                      rng.sample(WORDS, rng.randint(0, 4)), active=rng.random() > 0.1)
               for j in range(n_e)]
    pairs = [(e.id, p.id) for e in experts for p in proposals]
    conflicts = {pair for pair in pairs if rng.random() < 0.15}
    excluded = {pair for pair in pairs if rng.random() < 0.05} - conflicts
    fixed, per_p, per_e = set(), Counter(), Counter()
    limit = {e.id: e.max_load for e in experts}
    for e_id, p_id in pairs:
        if (rng.random() < 0.1 and (e_id, p_id) not in conflicts | excluded
                and per_p[p_id] < k and per_e[e_id] < limit[e_id]):
            fixed.add((e_id, p_id))
            per_p[p_id] += 1
            per_e[e_id] += 1
    return AssignmentProblem(tuple(proposals), tuple(experts), k, conflicts=frozenset(conflicts),
                             excluded=frozenset(excluded), fixed=frozenset(fixed),
                             load_penalty=rng.choice([0, 7, 60, 400]))


def affinity_table(prob: AssignmentProblem) -> dict:
    """Every pair's affinity as the solver values it (matrix for new, pairs for kept)."""
    model = AffinityModel(prob)
    rows, cols = np.arange(len(prob.proposals)), np.arange(len(prob.experts))
    matrix = model.block(rows, cols)
    table = {(e.id, p.id): int(matrix[i, j]) for i, p in enumerate(prob.proposals)
             for j, e in enumerate(prob.experts)}
    p_pos = {p.id: i for i, p in enumerate(prob.proposals)}
    e_pos = {e.id: j for j, e in enumerate(prob.experts)}
    for pair in prob.fixed:
        table[pair] = int(model.pairs(np.array([p_pos[pair[1]]]), np.array([e_pos[pair[0]]]))[0])
    return table


def brute_force(prob: AssignmentProblem, table: dict):
    """Best objective over every feasible assignment (None if there is none): each
    proposal takes its missing evaluators from every allowed subset, loads checked."""
    k = prob.evaluators_per_proposal
    kept = Counter(e for e, _ in prob.fixed)
    per_p = Counter(p for _, p in prob.fixed)
    options = []
    for p in prob.proposals:
        allowed = [e.id for e in prob.experts
                   if e.active and (e.id, p.id) not in prob.forbidden | prob.fixed]
        options.append([tuple((e, p.id) for e in combo)
                        for combo in itertools.combinations(allowed, k - per_p[p.id])])
    limit = {e.id: e.max_load for e in prob.experts}
    if any(kept[e] > limit[e] for e in kept) or any(per_p[p] > k for p in per_p):
        return None
    best = None
    for choice in itertools.product(*options):
        pairs = [pair for group in choice for pair in group] + sorted(prob.fixed)
        loads = Counter(e for e, _ in pairs)
        if any(n > limit[e] for e, n in loads.items()):
            continue
        value = sum(table[pair] for pair in pairs) - sum(
            load_cost(n, prob.load_penalty) for n in loads.values())
        best = value if best is None else max(best, value)
    return best
