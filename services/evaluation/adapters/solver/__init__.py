"""Optimal expert assignment with OR-Tools min-cost flow, certified against the full problem.

:func:`solve_assignment` runs in this process (benchmark, tests, the worker). The service
runs it in a child process (:mod:`.solver_warm`, :mod:`.solver_worker`), because OR-Tools
has been seen to abort the whole process on some inputs.

The objective is the one documented in :mod:`services.evaluation.domain.assignment`.
The flow network: each proposal supplies the evaluators it still needs; arc proposal ->
expert (capacity 1, cost -affinity) for candidate pairs; expert -> sink one arc per free
load unit, the j-th costing ``load_penalty * (kept + j - 1)`` (convex, so the cheapest
units fill first and min cost = max of the objective).

**Scale.** A call of 50,000 proposals and 20,000 experts has 10^9 pairs; their affinity
matrix is never held whole. One streamed pass computes it a block of proposals at a time
and *stores* the best ``4 * candidates`` pairs of each proposal, plus ``ceiling[p]``, the
largest affinity of p's pairs it did not store (an upper bound on all of them). The flow
network uses the best ``candidates`` stored pairs of each proposal, and the pairs of one
assignment dealt blind to affinity (:func:`.pairs.dealt`), so that it can place every
evaluation the loads allow from the start even where every proposal wants the same
experts.

**Optimality for the full problem is proven, not assumed.** For any multipliers ``u``
(one per proposal) and ``v`` (one per expert)::

    UB(u, v) = const + sum_p need_p * u_p + sum_(p,e) eligible max(0, a_pe - u_p - v_e)
                     + sum_e sum_(free units j) max(0, v_e - cost_ej)

bounds the full problem from above (Lagrangian relaxation of the "k per proposal" and
"flow through the expert" constraints; the sum runs over every eligible pair, not only
the candidates). The multipliers come from the sparse optimum: shortest-path potentials
of its residual network (vectorised Bellman-Ford), raised as far as complementary
slackness allows. The sum is exact over the stored pairs; for the pairs a proposal did
not store, ``a_pe <= min(ceiling[p], col_max[e])`` (col_max: the expert's best affinity,
kept from the same pass) bounds their part by 0 for almost every proposal (one binary
search over the experts sorted by ``v``); the few proposals where it does not are
recomputed exactly. UB then equals the sparse optimum plus
the positive ``a_pe - u_p - v_e`` of pairs outside the network; the best of those for
each proposal and for each expert are added and the network solved again (column
generation) until none is left (``UB`` equals the
objective: proven optimal, ``gap`` 0) or the round/time budget ends (``gap`` = relative
distance to ``UB``, an honest figure either way). When the sparse network is infeasible
its min cut names the blocked proposals; their candidate lists are doubled (their best
pairs stored first, never whole rows unless the list is) until either a flow exists or
the cut only uses complete lists, which proves the full problem infeasible and names
the group in words.

**Ties.** Affinities are small integers and pools repeat profiles, so many experts can
share a proposal's best value. Candidates and pricing's pairs are chosen by (value, then
a tie order of the pair): by expert id, every proposal of a profile took the same
lowest-numbered experts and left the others without arcs. The tie order is a fixed hash
of the pair's two positions, a different order of the experts for each proposal, so
tied proposals spread over the tied experts. (The 100,000-proposal synthetic call, whose
first assignment failed with widening to whole rows, 8.7 GB and the 600 s timeout, now
solves proven optimal in process: 463 s, 5 rounds, 1.93 GB then, 128.5 s, 4 rounds,
1.42 GB on 7 December 2026; see the service README.)

**Determinism.** Proposals and experts are sorted by id first, candidates are chosen by
(affinity, then the pair's tie order), and every array the flow sees is built in that
order, so the same problem gives the same pairs whatever order its parts came in.
"""

from services.evaluation.adapters.solver.options import SolverOptions
from services.evaluation.adapters.solver.affinity import AffinityModel, preload
from services.evaluation.adapters.solver.resources import peak_rss_mb, return_freed_memory
from services.evaluation.adapters.solver.solve import canonical, solve_assignment

__all__ = ["AffinityModel", "SolverOptions", "canonical", "peak_rss_mb", "preload",
           "return_freed_memory", "solve_assignment"]
