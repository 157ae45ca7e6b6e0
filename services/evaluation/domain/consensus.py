"""From final reports to a proposal's consensus scores, thresholds and pass/fail.

:func:`assess` answers, for one proposal, whether evaluation can complete and with what:

1. every currently assigned evaluator has a final individual report, and there are at
   least ``evaluators_per_proposal`` of them (reports of released experts do not count);
2. the spread (max - min of the report totals) is at most ``spread_threshold``, or, if
   above, it is resolved by an extra evaluator's final report or a recorded consensus note
   (the same rule for both methods: a wide spread calls for a discussion either way);
3. with ``consensus_method = rapporteur`` the rapporteur's consensus report is final.

Consensus scores are, per criterion, the mean of the reports (``mean``) or the rapporteur's
scores (``rapporteur``), rounded half-up to :data:`CONSENSUS_PRECISION` (0.01). The total
is the sum of the rounded criterion scores, so what applicants read adds up; thresholds are
checked on those published figures, and a score exactly at a threshold passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Collection, Iterable, Mapping

from services.evaluation.domain.conflicts import require_aware
from services.evaluation.domain.reports import Report, format_points
from shared.calls.model import EvaluationRules
from shared.events.catalogue import EvaluationCompleted

CONSENSUS_PRECISION = Decimal("0.01")
METHODS = ("mean", "rapporteur")
OVERALL = "overall"  # the name of the total's threshold in failed-threshold lists
DEFAULT_MIN_NOTE_LENGTH = 10

WAITING_FOR_REPORTS = "waiting_for_reports"
NEEDS_SPREAD_RESOLUTION = "needs_spread_resolution"
WAITING_FOR_RAPPORTEUR = "waiting_for_rapporteur"
COMPLETE = "complete"


def _round(value: Decimal) -> Decimal:
    return value.quantize(CONSENSUS_PRECISION, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------ thresholds
@dataclass(frozen=True)
class ThresholdCheck:
    """``failed`` lists criterion ids in the call's order, then ``overall``."""

    total: Decimal
    failed: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failed


def check_thresholds(scores: Mapping[str, Decimal], rules: EvaluationRules) -> ThresholdCheck:
    """Check every criterion threshold and the overall threshold (``>=`` passes)."""
    missing = [c.id for c in rules.criteria if c.id not in scores]
    if missing:
        raise ValueError(f"no score for {', '.join(missing)}")
    total = sum((scores[c.id] for c in rules.criteria), Decimal(0))
    failed = [c.id for c in rules.criteria
              if c.threshold is not None and scores[c.id] < c.threshold]
    if total < rules.overall_threshold:
        failed.append(OVERALL)
    return ThresholdCheck(total, tuple(failed))


def explain_failures(scores: Mapping[str, Decimal], rules: EvaluationRules) -> list[str]:
    """One sentence per failed threshold, e.g. ``relevance: 18.5 is below the threshold
    21.0``, in the order of :func:`check_thresholds`."""
    check = check_thresholds(scores, rules)
    reasons = []
    for failed in check.failed:
        if failed == OVERALL:
            reasons.append(f"overall: total {format_points(check.total)} is below the "
                           f"threshold {format_points(rules.overall_threshold)}")
        else:
            threshold = rules.criterion(failed).threshold
            reasons.append(f"{failed}: {format_points(scores[failed])} is below the threshold "
                           f"{format_points(threshold)}")
    return reasons


# ------------------------------------------------------------------ spread
@dataclass(frozen=True)
class Spread:
    value: Decimal  # max - min of the report totals
    threshold: Decimal

    @property
    def flagged(self) -> bool:
        return self.value > self.threshold


def spread_of(totals: Iterable[Decimal], rules: EvaluationRules) -> Spread:
    """The spread of some report totals against the call's threshold (0 for < 2 totals)."""
    totals = list(totals)
    value = max(totals) - min(totals) if totals else Decimal(0)
    return Spread(value, rules.spread_threshold)


@dataclass(frozen=True)
class ConsensusNote:
    """A recorded consensus discussion that resolves a flagged spread."""

    proposal_id: str
    text: str
    recorded_by: str
    recorded_at: datetime


def record_consensus_note(proposal_id: str, text: str, *, recorded_by: str, now: datetime,
                          min_length: int = DEFAULT_MIN_NOTE_LENGTH) -> ConsensusNote:
    """Record the outcome of a consensus discussion (by a rapporteur or operations)."""
    text = text.strip() if isinstance(text, str) else ""
    if len(text) < min_length:
        raise ValueError(f"note: must be at least {min_length} characters (has {len(text)})")
    if not recorded_by or not recorded_by.strip():
        raise ValueError("recorded_by: is required")
    return ConsensusNote(proposal_id, text, recorded_by.strip(), require_aware(now))


# ------------------------------------------------------------------ the assessment
@dataclass(frozen=True)
class ConsensusResult:
    """A completed evaluation. Holds no evaluator identity: it is what gets published."""

    proposal_id: str
    method: str
    scores: Mapping[str, Decimal]
    comments: Mapping[str, str]
    total: Decimal
    failed_thresholds: tuple[str, ...]
    spread: Spread
    resolutions: tuple[str, ...]  # extra_evaluator and/or consensus_note, if flagged
    report_count: int

    @property
    def passed(self) -> bool:
        return not self.failed_thresholds

    @property
    def spread_flagged(self) -> bool:
        return self.spread.flagged


@dataclass(frozen=True)
class ConsensusStatus:
    """Where a proposal stands; ``result`` is set only when ``state`` is ``complete``."""

    state: str
    missing_reports: tuple[str, ...] = ()  # assigned experts without a final report
    evaluators_short: int = 0  # evaluators still to assign to reach the minimum
    spread: Spread | None = None
    result: ConsensusResult | None = None

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


def assess(proposal_id: str, rules: EvaluationRules, *, reports: Iterable[Report],
           assigned_expert_ids: Collection[str], extra_evaluator_ids: Collection[str] = (),
           consensus_report: Report | None = None,
           note: ConsensusNote | None = None) -> ConsensusStatus:
    """Decide whether the proposal's evaluation is complete, and its consensus if so.

    ``assigned_expert_ids`` are the evaluators assigned now (extra ones included);
    ``extra_evaluator_ids`` those of them assigned because of the spread. Reports of other
    proposals, drafts, and reports of experts no longer assigned are ignored.
    """
    if rules.consensus_method not in METHODS:
        raise ValueError(f"unknown consensus method {rules.consensus_method!r}")
    final = sorted((r for r in reports if r.proposal_id == proposal_id and r.final
                    and r.kind == "individual" and r.expert_id in assigned_expert_ids),
                   key=lambda r: (r.finalised_at or r.updated_at, r.expert_id))
    authors = {r.expert_id for r in final}
    if len(authors) != len(final):
        raise ValueError(f"an expert has two final reports on {proposal_id}")
    missing = tuple(sorted(set(assigned_expert_ids) - authors))
    short = max(0, rules.evaluators_per_proposal - len(set(assigned_expert_ids)))
    if missing or short:
        return ConsensusStatus(WAITING_FOR_REPORTS, missing, short)

    spread = spread_of((r.total for r in final), rules)
    resolutions = _resolutions(proposal_id, authors, extra_evaluator_ids, note)
    if spread.flagged and not resolutions:
        return ConsensusStatus(NEEDS_SPREAD_RESOLUTION, spread=spread)

    if rules.consensus_method == "rapporteur":
        if not _usable_consensus_report(consensus_report, proposal_id):
            return ConsensusStatus(WAITING_FOR_RAPPORTEUR, spread=spread)
        scores, comments = _from_report(consensus_report, rules)
    else:
        scores, comments = _mean(final, rules)
    check = check_thresholds(scores, rules)
    result = ConsensusResult(proposal_id, rules.consensus_method, scores, comments, check.total,
                             check.failed, spread, resolutions if spread.flagged else (),
                             len(final))
    return ConsensusStatus(COMPLETE, spread=spread, result=result)


def _resolutions(proposal_id: str, authors: set[str], extra_ids: Collection[str],
                 note: ConsensusNote | None) -> tuple[str, ...]:
    found = []
    if authors & set(extra_ids):
        found.append("extra_evaluator")
    if note is not None and note.proposal_id == proposal_id:
        found.append("consensus_note")
    return tuple(found)


def _usable_consensus_report(report: Report | None, proposal_id: str) -> bool:
    return (report is not None and report.final and report.kind == "consensus"
            and report.proposal_id == proposal_id)


def _complete_scores(report: Report, rules: EvaluationRules) -> None:
    missing = [c.id for c in rules.criteria if c.id not in report.scores]
    if missing:
        raise ValueError(f"final report of {report.expert_id} has no score for "
                         f"{', '.join(missing)}")


def _from_report(report: Report, rules: EvaluationRules) -> tuple[dict, dict]:
    _complete_scores(report, rules)
    return ({c.id: _round(report.scores[c.id]) for c in rules.criteria},
            {c.id: report.comments.get(c.id, "") for c in rules.criteria})


def _mean(final: list[Report], rules: EvaluationRules) -> tuple[dict, dict]:
    """Mean score per criterion; comments are the reports' comments one after another,
    without names (the published comments must not say who wrote what)."""
    for report in final:
        _complete_scores(report, rules)
    count = Decimal(len(final))
    scores = {c.id: _round(sum((r.scores[c.id] for r in final), Decimal(0)) / count)
              for c in rules.criteria}
    comments = {c.id: "\n\n".join(r.comments[c.id] for r in final if r.comments.get(c.id))
                for c in rules.criteria}
    return scores, comments


def completed_event(result: ConsensusResult, *, call_id: str, topic_id: str, acronym: str,
                    contact_emails: Iterable[str], now: datetime,
                    causation_id: str | None = None) -> EvaluationCompleted:
    """The ``evaluation_completed`` event of a completed consensus."""
    return EvaluationCompleted(
        call_id=call_id, correlation_id=result.proposal_id, occurred_at=now,
        causation_id=causation_id, proposal_id=result.proposal_id, topic_id=topic_id,
        scores=dict(result.scores), comments=dict(result.comments), total=result.total,
        passed=result.passed, failed_thresholds=list(result.failed_thresholds),
        method=result.method, spread_flagged=result.spread_flagged, acronym=acronym,
        contact_emails=list(contact_emails))
