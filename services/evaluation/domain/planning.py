"""The evaluation's progress rules: which proposals of a topic are evaluated, when a topic
can be assigned and ranked, the assignment problem of some open slots, the rapporteur.

Pure functions over plain data; the service loads the data and acts on the answers.

- A proposal takes part in a topic's evaluation when it is in the topic's closing
  manifest, was screened admissible and eligible, and was not withdrawn.
- A topic can be assigned once it is closed and every proposal of its manifest is screened
  (or withdrawn), and the evaluation period has started.
- A topic is ranked when every proposal taking part is completed (after the period
  started), or when the ranking is forced (end of the evaluation period, or operations):
  then the completed ones are ranked and the others rejected as incomplete.
- An assignment problem covers some proposals' open slots: every active assignment on them
  is kept, a pair once released is never made again, and an expert's ``max_load`` is
  reduced by the assignments it carries on proposals outside the problem (so loads hold
  across topics and calls).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.evaluation.domain.affinity import ImportedScores
from services.evaluation.domain.assignment import (
    AssignmentProblem, Pair, ProposalToAssign, Shortfall)
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet
from services.evaluation.domain.reports import Report


@dataclass(frozen=True)
class ProposalState:
    """Where one proposal of a topic stands, as far as progress is concerned."""

    proposal_id: str
    in_manifest: bool
    screened: bool
    eligible: bool
    withdrawn: bool
    completed: bool

    @property
    def takes_part(self) -> bool:
        """Evaluated: frozen in the manifest, screened eligible, not withdrawn."""
        return self.in_manifest and self.screened and self.eligible and not self.withdrawn

    @property
    def awaiting_screening(self) -> bool:
        return self.in_manifest and not self.screened and not self.withdrawn


@dataclass(frozen=True)
class TopicProgress:
    closed: bool
    awaiting_screening: tuple[str, ...]
    taking_part: tuple[str, ...]
    incomplete: tuple[str, ...]  # taking part, evaluation not completed

    @property
    def screened(self) -> bool:
        """Closed and nothing left to screen: the set of proposals to evaluate is known."""
        return self.closed and not self.awaiting_screening

    @property
    def complete(self) -> bool:
        return self.screened and not self.incomplete


def topic_progress(closed: bool, states: Iterable[ProposalState]) -> TopicProgress:
    states = sorted(states, key=lambda s: s.proposal_id)
    return TopicProgress(
        closed,
        tuple(s.proposal_id for s in states if s.awaiting_screening),
        tuple(s.proposal_id for s in states if s.takes_part),
        tuple(s.proposal_id for s in states if s.takes_part and not s.completed))


def may_assign(progress: TopicProgress, evaluation_started: bool) -> bool:
    """Whether a topic's first assignment may run: its proposals are known, and the
    evaluation period started (an operator's command counts as a start)."""
    return evaluation_started and progress.screened


def should_rank(progress: TopicProgress, evaluation_started: bool, force: bool) -> bool:
    """Rank now? On its own once complete in the evaluation period; forced once closed."""
    if force:
        return progress.closed
    return evaluation_started and progress.complete


# ------------------------------------------------------------------ assignment problems
def proposal_to_assign(proposal_id: str, topic_id: str,
                       snapshot: Mapping[str, Any]) -> ProposalToAssign:
    """What the assignment needs of a screened proposal (``ProposalSnapshotSchema``)."""
    return ProposalToAssign(
        id=proposal_id, topic=topic_id,
        integration_areas=tuple(snapshot.get("integration_areas", ())),
        abstract=snapshot.get("abstract", ""),
        consortium=tuple(p["organisation_id"] for p in snapshot.get("participants", ())))


def build_problem(proposals: Sequence[ProposalToAssign], experts: Sequence[Expert], *,
                  evaluators: int, conflicts: Iterable[Pair] = (),
                  released: Iterable[Pair] = (), kept: Iterable[Pair] = (),
                  load_elsewhere: Mapping[str, int] | None = None,
                  imported: ImportedScores | None = None) -> AssignmentProblem:
    """The problem of filling the open slots of ``proposals`` up to ``evaluators`` each.

    ``kept`` are the active assignments (only those on these proposals are used),
    ``released`` pairs that were released for any reason (never made again),
    ``load_elsewhere`` each expert's active assignments on other proposals,
    ``imported`` affinity scores operations imported. Proposals and experts are put in
    id order, so the problem does not depend on the order they were loaded in.
    """
    ids = {p.id for p in proposals}
    load_elsewhere = load_elsewhere or {}
    pool = tuple(replace(e, max_load=max(e.max_load - load_elsewhere.get(e.id, 0), 0))
                 if load_elsewhere.get(e.id) else e for e in sorted(experts, key=lambda e: e.id))
    return AssignmentProblem(
        proposals=tuple(sorted(proposals, key=lambda p: p.id)), experts=pool,
        evaluators_per_proposal=evaluators,
        conflicts=_on(conflicts, ids), excluded=_on(released, ids), fixed=_on(kept, ids),
        imported=None if imported is None else imported.restrict(ids))


def _on(pairs: Iterable[Pair], proposal_ids: set[str]):
    """The pairs on the given proposals (a PairSet is filtered as arrays)."""
    if isinstance(pairs, PairSet):
        return pairs.restrict(proposal_ids)
    return frozenset(p for p in pairs if p[1] in proposal_ids)


def extra_slots_open(target: int, evaluators_per_proposal: int, extras_active: int) -> int:
    """How many of a proposal's new evaluators fill extra (spread) slots: the extra slots
    requested (``target - evaluators_per_proposal``) not held by an active extra."""
    return max(0, target - evaluators_per_proposal - extras_active)


# ------------------------------------------------------------------ rapporteur
def choose_rapporteur(reports: Iterable[Report], assigned: Collection[str]) -> str | None:
    """The rapporteur of a proposal (consensus method ``rapporteur``): among the assigned
    evaluators with a final individual report, the one who finalised first (ties: the
    smaller expert id). Having finished first, they have read the proposal and every
    other report is in by the time they are asked. None when nobody qualifies."""
    final = [r for r in reports if r.final and r.kind == "individual" and r.expert_id in assigned]
    if not final:
        return None
    return min(final, key=lambda r: (r.finalised_at or r.updated_at, r.expert_id)).expert_id


# ------------------------------------------------------------------ infeasible runs
def blamed_subjects(shortfalls: Iterable[Shortfall], topic_of: Mapping[str, str],
                    by_topic: bool) -> dict[str, list[str]]:
    """Which topics (``by_topic``) or proposals a diagnosis blames, with its messages.

    A first assignment is decided per topic (a topic is assigned whole or not at all), a
    repair per proposal. Call-wide and kept-pair shortfalls blame no single subject.
    """
    blamed: dict[str, list[str]] = {}
    for shortfall in shortfalls:
        if shortfall.kind == "proposal":
            proposal_ids = [shortfall.subject]
        elif shortfall.kind == "topic":
            proposal_ids = [p for p, t in topic_of.items() if t == shortfall.subject]
        elif shortfall.kind == "group":
            proposal_ids = shortfall.subject.split(",")
        else:
            continue
        subjects = {topic_of[p] for p in proposal_ids if p in topic_of} if by_topic \
            else [p for p in proposal_ids if p in topic_of]
        for subject in subjects:
            blamed.setdefault(subject, []).append(shortfall.message)
    return blamed
