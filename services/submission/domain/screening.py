"""Screening of a frozen proposal: admissibility, then eligibility, in one result.

Both checks always run so the applicant hears every problem at once; ``eligible``
reflects the eligibility rules only, and an inadmissible proposal goes no further
whatever ``eligible`` says.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from services.submission.domain.admissibility import check_admissibility
from services.submission.domain.eligibility import RuleFailure, check_eligibility, \
    ensure_known_rules
from services.submission.domain.proposal import FrozenProposal, Rival
from shared.calls.model import Call


@dataclass(frozen=True)
class ScreeningResult:
    proposal_id: str
    topic_id: str
    version: int
    admissible: bool
    eligible: bool
    failed_rules: tuple[RuleFailure, ...]  # errors: admissibility first, then eligibility
    warnings: tuple[RuleFailure, ...]  # warning-severity rules that did not hold

    @property
    def passed(self) -> bool:
        """Admissible and eligible: goes on to evaluation."""
        return self.admissible and self.eligible


def screen(call: Call, proposal: FrozenProposal,
           others: Iterable[FrozenProposal | Rival] = ()) -> ScreeningResult:
    """Screen one frozen proposal; ``others`` are the other frozen proposals of the call,
    or their :class:`Rival` summaries (needed by ``single_topic``). Raises UnknownRule if
    the call names a rule without a check, before judging anything."""
    ensure_known_rules(call)
    admissibility = check_admissibility(call, proposal)
    eligibility = check_eligibility(call, proposal, tuple(others))
    errors = [f for f in eligibility if f.severity == "error"]
    return ScreeningResult(
        proposal_id=proposal.proposal_id, topic_id=proposal.topic_id,
        version=proposal.version.number, admissible=not admissibility,
        eligible=not errors, failed_rules=tuple(admissibility + errors),
        warnings=tuple(f for f in eligibility if f.severity != "error"))


def rivals(proposals: Iterable[FrozenProposal | Rival]
           ) -> Callable[[FrozenProposal], tuple[FrozenProposal | Rival, ...]]:
    """For each proposal, the others of the call that can make it fail ``single_topic``
    (the only rule that compares proposals): those with the same project key. Found
    through an index, so screening N proposals costs O(N), not O(N²) (10,000 proposals
    meant 10⁸ comparisons)."""
    by_key: dict[tuple[str, str], list[FrozenProposal | Rival]] = defaultdict(list)
    for proposal in proposals:
        by_key[proposal.project_key].append(proposal)
    return lambda proposal: tuple(o for o in by_key.get(proposal.project_key, ())
                                  if o.proposal_id != proposal.proposal_id)


def screen_all(call: Call, proposals: Iterable[FrozenProposal]) -> list[ScreeningResult]:
    """Screen every frozen proposal of the call, each against all the others."""
    frozen = [p for p in proposals if p.call_id == call.id]
    others = rivals(frozen)
    return [screen(call, p, others(p)) for p in frozen]
