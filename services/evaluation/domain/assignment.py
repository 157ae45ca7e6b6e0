"""Expert-to-proposal assignment as plain data: the problem, its result, the checks that
tell why a problem cannot be solved, and the residual problem a repair solves.

The objective (what "optimal" means; the solver adapter optimises exactly this)::

    maximise  F = sum over assigned pairs (e, p) of affinity(p, e)
                  - load_penalty * sum over experts e of load(e) * (load(e) - 1) / 2

    subject to  every proposal has exactly k distinct evaluators,
                no expert is assigned to a proposal it conflicts with (or declined),
                an expert's load (kept + new assignments) is at most its max_load,
                new assignments go to active experts only, kept assignments stay.

The penalty is convex in an expert's load: the j-th assignment of an expert costs
``load_penalty * (j - 1)`` points. Moving one proposal from an expert with load ``a`` to
one with load ``b < a - 1`` saves ``load_penalty * (a - 1 - b)`` points, so the solver
makes that move whenever it loses fewer affinity points; with equal affinities loads
differ by at most one. ``load_penalty = 0`` maximises affinity alone. Affinity (0..1000
by default) is defined in :mod:`services.evaluation.domain.affinity`.

Pairs are ``(expert_id, proposal_id)`` throughout.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from services.evaluation.domain.affinity import AffinityWeights, ImportedScores
from services.evaluation.domain.blocked import BlockedPairs
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet

Pair = tuple[str, str]  # (expert_id, proposal_id)

#: affinity points (of 1000) the j-th assignment of one expert costs, times (j - 1)
DEFAULT_LOAD_PENALTY = 10


@dataclass(frozen=True)
class ProposalToAssign:
    """What the assignment needs of an eligible proposal."""

    id: str
    topic: str
    integration_areas: tuple[str, ...] = ()
    abstract: str = ""
    # organisation ids of applicant and co-applicants: what the conflict rules
    # (:func:`.conflicts.conflict_pairs`) look at; the assignment itself only sees the
    # resulting pairs
    consortium: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssignmentProblem:
    """One assignment to compute: proposals, pool, k, pairs that may not be made and
    pairs that are already made.

    ``experts`` are the pool's :class:`.experts.Expert` records (``max_load`` counts kept
    assignments too; inactive experts get no new assignment). ``conflicts`` are conflicts
    of interest, from :func:`.conflicts.conflict_pairs` (rules plus declarations);
    ``excluded`` are other pairs never to make (an expert declined the proposal);
    ``fixed`` are kept assignments. ``imported`` affinity scores (operations' import,
    or a benchmark instance) replace the TF-IDF similarity of their pairs.
    """

    proposals: tuple[ProposalToAssign, ...]
    experts: tuple[Expert, ...]
    evaluators_per_proposal: int
    conflicts: Set[Pair] = frozenset()
    excluded: Set[Pair] = frozenset()
    fixed: frozenset[Pair] = frozenset()
    load_penalty: int = DEFAULT_LOAD_PENALTY
    weights: AffinityWeights = field(default_factory=AffinityWeights)
    # scores from outside that take the place of the text similarity of their pairs
    imported: ImportedScores | None = None

    def __post_init__(self):
        if self.evaluators_per_proposal < 1:
            raise ValueError("evaluators_per_proposal must be at least 1")
        if self.load_penalty < 0:
            raise ValueError("load_penalty must be >= 0")
        for kind, items in (("proposal", self.proposals), ("expert", self.experts)):
            seen = Counter(item.id for item in items)
            twice = sorted(i for i, n in seen.items() if n > 1)
            if twice:
                raise ValueError(f"{kind} ids listed twice: {', '.join(twice)}")
        for name in ("conflicts", "excluded", "fixed"):
            value = getattr(self, name)  # a PairSet stays one: it may hold 10^7 pairs
            object.__setattr__(self, name, value if isinstance(value, PairSet)
                               else frozenset(value))

    def for_solving(self) -> "AssignmentProblem":
        """The problem as a solver keeps it once its text model is built: the same
        proposals without their abstracts (the text model is their only reader), and
        no pair sets, whose pairs all are in :attr:`blocked`, which comes along
        computed. A solver keeps the problem through every round; at 100,000 proposals
        the abstracts are 0.1 GB and the conflicts' set 0.13 GB beside the blocked pairs
        built from it. Only :attr:`blocked` speaks for the pairs then: ``conflicts``,
        ``excluded`` and :attr:`forbidden` of the result are empty."""
        blocked = self.blocked
        lean = replace(self, proposals=tuple(replace(p, abstract="") for p in self.proposals),
                       conflicts=frozenset(), excluded=frozenset())
        lean.__dict__["blocked"] = blocked  # cached_property's store (the class is frozen)
        return lean

    @cached_property  # computed once: checks test membership for every pair
    def forbidden(self) -> Set[Pair]:
        """Pairs the solver may never make: conflicts of interest and refusals."""
        return self.conflicts | self.excluded

    @cached_property
    def blocked(self) -> BlockedPairs:
        """Every pair no new assignment may make (forbidden or already kept), once each,
        in this problem's order: the form the diagnosis and the solver work on. Where
        the conflicts are a pair set in this problem's own id tables and nothing else
        is blocked (the solver's child, a first assignment) it is that set's array
        itself, not a copy."""
        pairs = PairSet.of(self.conflicts).union(self.excluded, self.fixed)
        codes = pairs.codes_in([e.id for e in self.experts], [p.id for p in self.proposals])
        return BlockedPairs(codes, len(self.proposals), len(self.experts))


@dataclass(frozen=True)
class AssignmentResult:
    """What a solve returns.

    ``status``: ``optimal`` (proven, ``gap`` 0), ``feasible`` (valid assignment, ``gap`` is
    the relative distance to a proven upper bound), ``infeasible`` (``diagnosis`` says
    why, in words) or ``error`` (the solver failed; ``error`` says how). ``pairs`` holds
    every assignment, kept ones included; ``new_pairs`` only those this solve made.
    """

    status: str
    pairs: tuple[Pair, ...] = ()
    new_pairs: tuple[Pair, ...] = ()
    total_affinity: int = 0
    load_cost: int = 0
    objective: int = 0
    bound: int | None = None
    gap: float | None = None
    diagnosis: tuple[str, ...] = ()
    error: str = ""
    stats: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")


# ------------------------------------------------------------------------ counting
def needs(problem: AssignmentProblem) -> dict[str, int]:
    """Evaluators each proposal still needs (k minus its kept assignments)."""
    kept = Counter(p for _, p in problem.fixed)
    return {p.id: problem.evaluators_per_proposal - kept[p.id] for p in problem.proposals}


def remaining_loads(problem: AssignmentProblem) -> dict[str, int]:
    """New assignments each expert may still take (0 for inactive experts)."""
    kept = Counter(e for e, _ in problem.fixed)
    return {e.id: max(e.max_load - kept[e.id], 0) if e.active else 0 for e in problem.experts}


def load_cost(load: int, penalty: int) -> int:
    """Penalty of one expert carrying ``load`` assignments: penalty * load*(load-1)/2."""
    return penalty * load * (load - 1) // 2


def objective_of(problem: AssignmentProblem, pairs: Iterable[Pair],
                 affinity: Mapping[Pair, int]) -> tuple[int, int, int]:
    """``(objective, total_affinity, load_cost)`` of a complete assignment."""
    pairs = list(pairs)
    total = sum(affinity[pair] for pair in pairs)
    loads = Counter(e for e, _ in pairs)
    cost = sum(load_cost(n, problem.load_penalty) for n in loads.values())
    return total - cost, total, cost


def violations(problem: AssignmentProblem, pairs: Iterable[Pair]) -> list[str]:
    """Every way ``pairs`` breaks the problem's rules, in words (empty when valid).

    Independent of the solver: tests and the benchmark use it to check results.
    """
    pairs = list(pairs)
    found: list[str] = []
    forbidden = problem.forbidden
    experts = {e.id: e for e in problem.experts}
    proposal_ids = {p.id for p in problem.proposals}
    for pair, n in Counter(pairs).items():
        if n > 1:
            found.append(f"expert {pair[0]} assigned {n} times to proposal {pair[1]}")
    unique = set(pairs)
    for expert_id, proposal_id in sorted(unique):
        if expert_id not in experts or proposal_id not in proposal_ids:
            found.append(f"pair ({expert_id}, {proposal_id}) names an unknown party")
        elif (expert_id, proposal_id) in forbidden:
            found.append(f"expert {expert_id} assigned to conflicted proposal {proposal_id}")
        elif (expert_id, proposal_id) not in problem.fixed and not experts[expert_id].active:
            found.append(f"inactive expert {expert_id} assigned to proposal {proposal_id}")
    for pair in sorted(problem.fixed - unique):
        found.append(f"kept assignment of expert {pair[0]} to proposal {pair[1]} was dropped")
    loads = Counter(e for e, _ in unique)
    for expert_id, load in sorted(loads.items()):
        if expert_id in experts and load > experts[expert_id].max_load:
            found.append(f"expert {expert_id} carries {load} assignments, "
                         f"max load {experts[expert_id].max_load}")
    per_proposal = Counter(p for _, p in unique)
    k = problem.evaluators_per_proposal
    for proposal in problem.proposals:
        if per_proposal[proposal.id] != k:
            found.append(f"proposal {proposal.id} has {per_proposal[proposal.id]} "
                         f"evaluators, needs {k}")
    return found


# ------------------------------------------------------------------------ diagnosis
@dataclass(frozen=True)
class Shortfall:
    """A constraint that cannot be met: ``kind`` is proposal, topic, call, group or kept;
    ``needed`` evaluations of ``subject`` against ``available`` ones."""

    kind: str
    subject: str
    needed: int
    available: int
    message: str


def diagnose(problem: AssignmentProblem) -> tuple[Shortfall, ...]:
    """Why the problem has no solution, most specific first; empty when no count-based
    check fails.

    Kept assignments that break the rules come first (nothing else is checked then);
    then each proposal, each topic and the whole call: a set S of proposals needs
    ``sum(need)`` evaluations and can get at most ``sum over experts of
    min(remaining load, proposals of S the expert may evaluate)`` (Hall's condition).
    A wider set is named only for a shortfall of its own: topics are checked as if each
    short proposal needed only what it can get, and the call only when no topic is short.
    These are necessary conditions; the solver proves sufficiency and, when they pass
    but no assignment exists, names the blocking group with :func:`group_shortfall`.
    """
    kept = _kept_problems(problem)
    if kept:
        return kept
    counts = _Counts(problem)
    found = counts.proposals()
    for shortfall in found:  # don't blame the topic for what the proposal already says
        counts.need[counts.position[shortfall.subject]] = shortfall.available
    topics = sorted({p.topic for p in problem.proposals})
    short_topics = [s for t in topics if (s := counts.topic(t))]
    found += short_topics
    if len(topics) > 1 and not short_topics and (s := counts.call()):
        found.append(s)
    return tuple(found)


def group_shortfall(problem: AssignmentProblem, proposal_ids: Iterable[str]) -> Shortfall | None:
    """The shortfall of a set of proposals taken together, or None if they can be served."""
    return _Counts(problem).group(set(proposal_ids))


class _Counts:
    """Demand and the most any expert can give to a set of proposals (Hall's condition).

    Arrays in problem order; the blocked pairs (forbidden or kept, ~10^7 in a large call)
    are only ever counted with ``bincount``, never looked at one by one."""

    def __init__(self, problem: AssignmentProblem):
        self.ids = [p.id for p in problem.proposals]
        self.position = {p: i for i, p in enumerate(self.ids)}
        self.topic_of = {p.id: p.topic for p in problem.proposals}
        need = needs(problem)
        remaining = remaining_loads(problem)
        self.need = np.array([need[p] for p in self.ids], dtype=np.int64)
        self.remaining = np.array([remaining[e.id] for e in problem.experts], dtype=np.int64)
        # pairs no new assignment may make: forbidden, or already kept
        self.blocked = problem.blocked
        self.n_open = int((self.remaining > 0).sum())

    def proposals(self) -> list[Shortfall]:
        """Every proposal that has fewer non-conflicted experts with free load than it
        needs."""
        available = self.n_open - self.blocked.per_proposal(experts=self.remaining > 0)
        short = np.flatnonzero((self.need > 0) & (available < self.need))
        found = []
        for i in short.tolist():
            n, proposal_id = int(available[i]), self.ids[i]
            noun = "expert" if n == 1 else "experts"
            found.append(Shortfall("proposal", proposal_id, int(self.need[i]), n,
                                   f"proposal {proposal_id}: only {n} non-conflicted active "
                                   f"{noun} with free load, needs {int(self.need[i])}"))
        return found

    def topic(self, topic: str) -> Shortfall | None:
        members = {p for p, t in self.topic_of.items() if t == topic}
        return self._shortfall("topic", topic, members, f"topic {topic}")

    def call(self) -> Shortfall | None:
        return self._shortfall("call", "*", set(self.ids), "all topics")

    def group(self, members: set[str]) -> Shortfall | None:
        names = sorted(members)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        topics = sorted({self.topic_of[p] for p in members})
        label = f"proposals {shown} (topic{'s' if len(topics) > 1 else ''} {', '.join(topics)})"
        return self._shortfall("group", ",".join(names), members, label)

    def _shortfall(self, kind: str, subject: str, members: set[str], label: str):
        inside = np.zeros(len(self.ids), dtype=bool)
        inside[[self.position[p] for p in members if p in self.position]] = True
        wanting = inside & (self.need > 0)
        needed = int(self.need[wanting].sum())
        if not needed:
            return None
        n_wanting = int(wanting.sum())
        # pairs of experts without free load are counted too: they are left out below
        blocked = self.blocked.per_expert(wanting)
        available = int(np.minimum(self.remaining, n_wanting - blocked)[self.remaining > 0].sum())
        if available >= needed:
            return None
        return Shortfall(kind, subject, needed, available,
                         f"{label}: {n_wanting} proposals need {needed} evaluations, "
                         f"only {available} available from non-conflicted experts")


def _kept_problems(problem: AssignmentProblem) -> tuple[Shortfall, ...]:
    """Kept assignments that cannot stand: unknown party, conflicted, over k, over load."""
    experts = {e.id: e for e in problem.experts}
    proposal_ids = {p.id for p in problem.proposals}
    found = []
    for expert_id, proposal_id in sorted(problem.fixed):
        if expert_id not in experts or proposal_id not in proposal_ids:
            found.append(Shortfall("kept", f"{expert_id}/{proposal_id}", 0, 0,
                                   f"kept assignment of {expert_id} to {proposal_id} names "
                                   f"an unknown expert or proposal"))
        elif (expert_id, proposal_id) in problem.forbidden:
            found.append(Shortfall("kept", f"{expert_id}/{proposal_id}", 0, 0,
                                   f"kept assignment of expert {expert_id} to proposal "
                                   f"{proposal_id} is conflicted or declined"))
    k = problem.evaluators_per_proposal
    for proposal_id, n in sorted(Counter(p for _, p in problem.fixed).items()):
        if n > k:
            found.append(Shortfall("kept", proposal_id, k, n,
                                   f"proposal {proposal_id}: {n} kept evaluators, needs {k}"))
    for expert_id, n in sorted(Counter(e for e, _ in problem.fixed).items()):
        if expert_id in experts and n > experts[expert_id].max_load:
            found.append(Shortfall("kept", expert_id, n, experts[expert_id].max_load,
                                   f"expert {expert_id}: {n} kept assignments exceed max "
                                   f"load {experts[expert_id].max_load}"))
    return tuple(found)


# ------------------------------------------------------------------------ repair
@dataclass(frozen=True)
class Release:
    """An expert leaves one proposal: ``declined`` it or declared a ``conflict``."""

    expert_id: str
    proposal_id: str
    reason: str = "declined"

    def __post_init__(self):
        if self.reason not in ("declined", "conflict"):
            raise ValueError(f"unknown release reason {self.reason!r}")


@dataclass(frozen=True)
class RepairPlan:
    """The residual problem a repair solves: every current pair except the released ones
    is kept (``fixed``), released pairs are forbidden from now on, and only the
    ``freed`` slots are open. Solving it with the usual objective gives the optimal
    refill of exactly those slots."""

    problem: AssignmentProblem
    kept: frozenset[Pair]
    freed: tuple[Pair, ...]


def plan_repair(problem: AssignmentProblem, current: Iterable[Pair],
                releases: Iterable[Release]) -> RepairPlan:
    """Build the residual problem after experts declined or declared conflicts.

    ``problem`` is the original problem (its ``fixed`` pairs are ignored: ``current`` is
    the assignment in force). Releases of pairs not in ``current`` still forbid the pair.
    """
    current = frozenset(current)
    releases = list(releases)
    released = {(r.expert_id, r.proposal_id) for r in releases}
    conflicts = problem.conflicts | {(r.expert_id, r.proposal_id)
                                     for r in releases if r.reason == "conflict"}
    excluded = problem.excluded | {(r.expert_id, r.proposal_id)
                                   for r in releases if r.reason == "declined"}
    kept = current - released
    residual = AssignmentProblem(
        proposals=problem.proposals, experts=problem.experts,
        evaluators_per_proposal=problem.evaluators_per_proposal,
        conflicts=frozenset(conflicts), excluded=frozenset(excluded), fixed=kept,
        load_penalty=problem.load_penalty, weights=problem.weights)
    return RepairPlan(residual, kept, tuple(sorted(current & released)))
