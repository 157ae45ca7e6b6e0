"""Screening of a frozen proposal: admissibility, then eligibility, in one result.

Both checks always run so the applicant hears every problem at once; ``eligible``
reflects the eligibility rules only, and an inadmissible proposal goes no further
whatever ``eligible`` says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from services.submission.domain.admissibility import check_admissibility
from services.submission.domain.eligibility import RuleFailure, check_eligibility, \
    ensure_known_rules
from services.submission.domain.proposal import FrozenProposal
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
           others: Iterable[FrozenProposal] = ()) -> ScreeningResult:
    """Screen one frozen proposal; ``others`` are the other frozen proposals of the call
    (needed by ``single_topic``). Raises UnknownRule if the call names a rule without a
    check, before judging anything."""
    ensure_known_rules(call)
    admissibility = check_admissibility(call, proposal)
    eligibility = check_eligibility(call, proposal, tuple(others))
    errors = [f for f in eligibility if f.severity == "error"]
    return ScreeningResult(
        proposal_id=proposal.proposal_id, topic_id=proposal.topic_id,
        version=proposal.version.number, admissible=not admissibility,
        eligible=not errors, failed_rules=tuple(admissibility + errors),
        warnings=tuple(f for f in eligibility if f.severity != "error"))


def screen_all(call: Call, proposals: Iterable[FrozenProposal]) -> list[ScreeningResult]:
    """Screen every frozen proposal of the call, each against all the others."""
    frozen = [p for p in proposals if p.call_id == call.id]
    return [screen(call, p, [o for o in frozen if o.proposal_id != p.proposal_id])
            for p in frozen]
