"""Evaluation reports: an expert's scores and comments on one proposal.

Two kinds share one shape: the ``individual`` report of each assigned evaluator, and the
``consensus`` report a rapporteur writes when the call's consensus method is
``rapporteur``.

Rules (each error names the place and the rule, e.g.
``criteria.relevance.score: 31 is above the maximum 30``):

- a score is a number in ``[0, max_points]`` in steps of :data:`SCORE_STEP` (0.5): half
  points are the usual EU practice and keep means readable; floats are read through their
  text form so ``27.5`` is 27.5, not its binary approximation;
- each criterion needs a comment of at least ``min_comment_length`` characters (default
  :data:`DEFAULT_MIN_COMMENT_LENGTH`), not counting surrounding spaces;
- a draft may be incomplete (scores given must still be valid); completeness and comment
  length are required when the report is made final; a final report cannot be edited;
- only an assigned expert without a conflict on the proposal may write.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Collection, Mapping

from services.evaluation.domain.conflicts import ConflictCheck, require_aware
from shared.calls.model import EvaluationRules
from shared.events.catalogue import EvaluationReportSubmitted

SCORE_STEP = Decimal("0.5")
DEFAULT_MIN_COMMENT_LENGTH = 10
KINDS = ("individual", "consensus")


def format_points(value: Decimal) -> str:
    """``Decimal('85')`` -> ``85.0``, ``Decimal('27.50')`` -> ``27.5``: one way to print
    points in tie-breaks and summaries."""
    text = _plain(value)
    return text if "." in text else f"{text}.0"


def _plain(value: Decimal) -> str:
    """A number as an operator typed it: ``31``, ``27.5`` (no exponent, no trailing 0)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Report:
    """One report. ``scores`` and ``comments`` are keyed by criterion id."""

    proposal_id: str
    expert_id: str
    scores: Mapping[str, Decimal]
    comments: Mapping[str, str]
    updated_at: datetime
    kind: str = "individual"
    final: bool = False
    finalised_at: datetime | None = None

    @property
    def total(self) -> Decimal:
        """Sum of the scores given so far (of all criteria once final)."""
        return sum(self.scores.values(), Decimal(0))


class ReportError(ValueError):
    """The report breaks one or more rules; ``issues`` has one message per problem."""

    def __init__(self, issues):
        self.issues = tuple(issues)
        super().__init__("; ".join(self.issues))


class ReportLocked(ReportError):
    """The report is final: nothing in it may change."""


class NotAllowed(PermissionError):
    """This expert may not write this report (not assigned, or conflicted)."""


# ------------------------------------------------------------------ access
def check_write_access(expert_id: str, proposal_id: str, *,
                       assigned_expert_ids: Collection[str], conflict: ConflictCheck) -> None:
    """Raise :class:`NotAllowed` unless the expert is assigned and not conflicted.

    ``assigned_expert_ids`` are the experts currently assigned to the proposal in the role
    of the report (evaluators for individual reports, the rapporteur for the consensus
    report); ``conflict`` is :func:`conflicts.check_conflict` for this very pair.
    """
    if (conflict.expert_id, conflict.proposal_id) != (expert_id, proposal_id):
        raise ValueError("the conflict check given is for another expert or proposal")
    if expert_id not in assigned_expert_ids:
        raise NotAllowed(f"expert {expert_id} is not assigned to proposal {proposal_id}")
    if conflict.conflicted:
        raise NotAllowed(f"expert {expert_id} has a conflict of interest on proposal {proposal_id}")


# ------------------------------------------------------------------ validation
def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)  # 27.3 -> "27.3", so the step rule reports what was typed
    try:
        number = Decimal(value) if isinstance(value, (Decimal, int, str)) else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def _score_issue(path: str, raw: Any, maximum: Decimal) -> tuple[Decimal | None, str | None]:
    number = _decimal(raw)
    if number is None:
        return None, f"{path}: {raw!r} is not a number"
    shown = _plain(number)
    if number < 0:
        return None, f"{path}: {shown} is below the minimum 0"
    if number > maximum:
        return None, f"{path}: {shown} is above the maximum {_plain(maximum)}"
    if number % SCORE_STEP:
        return None, f"{path}: {shown} is not a multiple of {SCORE_STEP}"
    return number.quantize(Decimal("0.1")), None


def _clean(rules: EvaluationRules, scores: Mapping[str, Any],
           comments: Mapping[str, Any]) -> tuple[dict, dict, list[str]]:
    """Valid scores and comments, and the issues of everything else (drafts' rules)."""
    known = {c.id: c for c in rules.criteria}
    issues = [f"criteria.{k}: is not a criterion of this call"
              for k in dict.fromkeys((*scores, *comments)) if k not in known]
    clean_scores: dict[str, Decimal] = {}
    for cid, raw in scores.items():
        if cid in known and raw is not None:
            value, issue = _score_issue(f"criteria.{cid}.score", raw, known[cid].max_points)
            if issue:
                issues.append(issue)
            else:
                clean_scores[cid] = value
    clean_comments: dict[str, str] = {}
    for cid, raw in comments.items():
        if cid in known and raw is not None:
            if isinstance(raw, str):
                clean_comments[cid] = raw.strip()
            else:
                issues.append(f"criteria.{cid}.comment: must be text")
    return clean_scores, clean_comments, issues


def completeness_issues(report: Report, rules: EvaluationRules,
                        min_comment_length: int = DEFAULT_MIN_COMMENT_LENGTH) -> list[str]:
    """What keeps a report from being final: missing scores, missing or short comments."""
    issues = []
    for c in rules.criteria:
        if c.id not in report.scores:
            issues.append(f"criteria.{c.id}.score: is required")
        comment = report.comments.get(c.id, "")
        if not comment:
            issues.append(f"criteria.{c.id}.comment: is required")
        elif len(comment) < min_comment_length:
            issues.append(f"criteria.{c.id}.comment: must be at least {min_comment_length} "
                          f"characters (has {len(comment)})")
    return issues


# ------------------------------------------------------------------ commands
def save_draft(current: Report | None, *, proposal_id: str, expert_id: str,
               scores: Mapping[str, Any], comments: Mapping[str, Any], rules: EvaluationRules,
               now: datetime, assigned_expert_ids: Collection[str], conflict: ConflictCheck,
               kind: str = "individual") -> Report:
    """Create or replace the draft: it becomes exactly the scores and comments sent.

    Raises NotAllowed (access), ReportLocked (already final) or ReportError (any score
    out of range or off-step, unknown criterion). Missing entries are allowed in a draft.
    """
    check_write_access(expert_id, proposal_id, assigned_expert_ids=assigned_expert_ids,
                       conflict=conflict)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if current is not None:
        _same_report(current, proposal_id, expert_id, kind)
        if current.final:
            raise ReportLocked([f"report of {expert_id} on {proposal_id} is final and "
                                "cannot be edited"])
    clean_scores, clean_comments, issues = _clean(rules, scores, comments)
    if issues:
        raise ReportError(issues)
    return Report(proposal_id, expert_id, clean_scores, clean_comments, require_aware(now), kind)


def finalise(current: Report, *, rules: EvaluationRules, now: datetime,
             assigned_expert_ids: Collection[str], conflict: ConflictCheck,
             min_comment_length: int = DEFAULT_MIN_COMMENT_LENGTH) -> Report:
    """Mark a complete draft final; from then on it cannot change.

    Access is checked again: an expert released or found conflicted after saving the
    draft must not be able to finalise it.
    """
    check_write_access(current.expert_id, current.proposal_id,
                       assigned_expert_ids=assigned_expert_ids, conflict=conflict)
    if current.final:
        raise ReportLocked([f"report of {current.expert_id} on {current.proposal_id} "
                            "is already final"])
    # re-validate the stored values too: the call's rules may have been amended since
    _, _, issues = _clean(rules, current.scores, current.comments)
    issues += completeness_issues(current, rules, min_comment_length)
    if issues:
        raise ReportError(issues)
    now = require_aware(now)
    return Report(current.proposal_id, current.expert_id, dict(current.scores),
                  dict(current.comments), now, current.kind, True, now)


def _same_report(current: Report, proposal_id: str, expert_id: str, kind: str) -> None:
    if (current.proposal_id, current.expert_id, current.kind) != (proposal_id, expert_id, kind):
        raise ValueError("the current report given belongs to another proposal, expert or kind")


def report_submitted_event(report: Report, *, call_id: str, topic_id: str, now: datetime,
                           causation_id: str | None = None) -> EvaluationReportSubmitted:
    """The ``evaluation_report_submitted`` event for a saved or finalised report."""
    return EvaluationReportSubmitted(
        call_id=call_id, correlation_id=report.proposal_id, occurred_at=now,
        causation_id=causation_id, proposal_id=report.proposal_id, topic_id=topic_id,
        expert_id=report.expert_id, total=report.total, final=report.final)
