"""The Evaluation Summary Report of one proposal, as a JSON-ready dict.

Built only from the consensus (which holds no evaluator identity) and the topic ranking,
so it cannot name an evaluator; what evaluators wrote inside their comments is theirs.
Numbers are text in :func:`reports.format_points` form (``27.5``, ``30.0``) so the dict
goes through ``json.dumps`` as is and reads the same in the HTML rendering.

Outcome ``status``: ``main_list`` (with rank), ``reserve_list`` (with rank and position in
the reserve list), ``rejected`` (with one reason per failed threshold), or ``pending`` for a
passing proposal whose topic ranking is not published yet. A proposal that failed a
threshold is ``rejected`` as soon as its consensus is known. A proposal whose evaluation
never completed before the ranking was forced (:func:`incomplete_summary`) is ``rejected``
with that reason and has no scores.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from services.evaluation.domain.consensus import ConsensusResult, explain_failures
from services.evaluation.domain.ranking import EVALUATION_INCOMPLETE, TopicRanking
from services.evaluation.domain.reports import format_points
from shared.calls.model import EvaluationRules

STATUS_BY_LIST = {"main": "main_list", "reserve": "reserve_list", "rejected": "rejected"}


def _points(value: Decimal | None) -> str | None:
    return None if value is None else format_points(value)


def _criteria(result: ConsensusResult, rules: EvaluationRules) -> list[dict]:
    rows = []
    for c in rules.criteria:
        score = result.scores[c.id]
        rows.append({
            "id": c.id, "title": c.title, "score": _points(score),
            "max_points": _points(c.max_points), "threshold": _points(c.threshold),
            "passed": None if c.threshold is None else score >= c.threshold,
            "comment": result.comments.get(c.id, ""),
        })
    return rows


def placement_of(ranking: TopicRanking, proposal_id: str) -> dict:
    """``{list, rank, reserve_position}`` of a proposal in a ranking (what a service stores
    to build the summary later without the whole ranking)."""
    try:
        placement = ranking.placement(proposal_id)
    except KeyError:
        raise ValueError(f"proposal {proposal_id} is not in the ranking of "
                         f"{ranking.topic_id}") from None
    return {"list": placement.list, "rank": placement.entry.rank,
            "reserve_position": placement.reserve_position}


def _outcome(result: ConsensusResult, rules: EvaluationRules,
             placement: Mapping[str, Any] | None) -> dict:
    outcome = {"status": "pending", "rank": None, "reserve_position": None, "reasons": []}
    if placement is not None:
        outcome.update(status=STATUS_BY_LIST[placement["list"]], rank=placement["rank"],
                       reserve_position=placement["reserve_position"])
    elif not result.passed:
        outcome["status"] = "rejected"
    if outcome["status"] == "rejected":
        outcome["reasons"] = explain_failures(result.scores, rules)
    return outcome


def build_summary(result: ConsensusResult, rules: EvaluationRules, *, call_id: str,
                  topic_id: str, acronym: str, title: str = "",
                  ranking: TopicRanking | None = None,
                  placement: Mapping[str, Any] | None = None) -> dict:
    """The summary report of one evaluated proposal; pass ``ranking`` (or the proposal's
    ``placement`` in it, see :func:`placement_of`) once published."""
    if ranking is not None:
        placement = placement_of(ranking, result.proposal_id)
    max_total = sum((c.max_points for c in rules.criteria), Decimal(0))
    return {
        "document": "evaluation_summary_report",
        "call_id": call_id,
        "topic_id": topic_id,
        "proposal_id": result.proposal_id,
        "acronym": acronym,
        "title": title,
        "method": result.method,
        "criteria": _criteria(result, rules),
        "total": {"score": _points(result.total), "max_points": _points(max_total),
                  "threshold": _points(rules.overall_threshold),
                  "passed": result.total >= rules.overall_threshold},
        "passed": result.passed,
        "failed_thresholds": list(result.failed_thresholds),
        "outcome": _outcome(result, rules, placement),
    }


def incomplete_summary(rules: EvaluationRules, *, call_id: str, topic_id: str,
                       proposal_id: str, acronym: str, title: str = "") -> dict:
    """The summary of a proposal rejected because its evaluation did not complete before
    the ranking: the same shape as :func:`build_summary`, without scores."""
    max_total = sum((c.max_points for c in rules.criteria), Decimal(0))
    return {
        "document": "evaluation_summary_report",
        "call_id": call_id, "topic_id": topic_id, "proposal_id": proposal_id,
        "acronym": acronym, "title": title, "method": None,
        "criteria": [{"id": c.id, "title": c.title, "score": None,
                      "max_points": _points(c.max_points), "threshold": _points(c.threshold),
                      "passed": None, "comment": ""} for c in rules.criteria],
        "total": {"score": None, "max_points": _points(max_total),
                  "threshold": _points(rules.overall_threshold), "passed": False},
        "passed": False,
        "failed_thresholds": [EVALUATION_INCOMPLETE],
        "outcome": {"status": "rejected", "rank": None, "reserve_position": None,
                    "reasons": ["the evaluation was not completed by the end of the "
                                "evaluation period"]},
    }
