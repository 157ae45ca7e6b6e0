"""A scenario as plain data (see docs/scenarios.md for the file format)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Action:
    at: datetime
    do: str  # create | submit | resubmit | withdraw
    change: dict = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class EvaluationBehaviour:
    quality: float = 75.0
    spread: float = 3.0
    scores: tuple[dict, ...] = ()  # exact points: the n-th report takes scores[n % len]
    conflicts: tuple[str, ...] = ()
    declines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProposalSpec:
    ref: str
    topic: str
    content: dict  # the proposal form as the submission API takes it (without parts)
    parts: tuple[str, ...]
    actions: tuple[Action, ...]
    evaluation: EvaluationBehaviour = EvaluationBehaviour()
    grant: str = "sign"  # sign | decline | ignore

    @property
    def contact_email(self) -> str:
        return self.content["coordinator"]["contact_email"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    call_yaml: str  # the call file's text with the overrides applied
    experts: tuple[dict, ...]
    proposals: tuple[ProposalSpec, ...]
    report_after_days: int = 10
    spread_resolution: str = "note"  # note | extra_evaluator
    act_after_days: int = 14
    authority: str = "sign"
    expect: dict = field(default_factory=dict)

    def proposal(self, ref: str) -> ProposalSpec:
        return next(p for p in self.proposals if p.ref == ref)
