"""Admissibility: the proposal was received on time and every required part is there.

Runs on the frozen version; parts are known by name, SHA-256 and size only, so a part
that is "present and readable" means present with a size above zero.
"""
from __future__ import annotations

from services.submission.domain.deadline import is_on_time, utc_iso
from services.submission.domain.eligibility import RuleFailure
from services.submission.domain.proposal import FrozenProposal
from shared.calls.model import Call


def check_admissibility(call: Call, proposal: FrozenProposal) -> list[RuleFailure]:
    """Every admissibility failure: one per missing or empty required part, and one if
    the frozen version was not received strictly before the (possibly amended) deadline."""
    failures = []
    for name in call.required_parts:
        part = proposal.content.part(name)
        if part is None:
            failures.append(RuleFailure(
                "required_parts", "admissibility",
                f"The required part '{name}' is missing.", {"part": name, "problem": "missing"}))
        elif part.size == 0:
            failures.append(RuleFailure(
                "required_parts", "admissibility",
                f"The required part '{name}' is empty.", {"part": name, "problem": "empty"}))
    received = proposal.version.received_at
    if not is_on_time(received, call.deadline):
        failures.append(RuleFailure(
            "submitted_on_time", "admissibility",
            "The proposal was not received before the submission deadline.",
            {"received_at": utc_iso(received), "deadline": utc_iso(call.deadline)}))
    return failures
