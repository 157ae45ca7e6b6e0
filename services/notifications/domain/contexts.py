"""Context pieces several messages share: the call, the topic, failed rules, the
evaluation summary report. Each returns plain, already formatted data."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from shared.calls.model import Call

from shared.formatting import number, plain_values

INADMISSIBLE, INELIGIBLE, ELIGIBLE = "inadmissible", "ineligible", "eligible"


def call_context(call: Call) -> dict[str, Any]:
    return {"call_id": call.id, "call_title": call.title, "call_version": call.version}


def topic_context(call: Call, topic_id: str) -> dict[str, Any]:
    try:
        title = call.topic(topic_id).title
    except KeyError:  # a topic added by a later call version we have not loaded yet
        title = topic_id
    return {"topic_id": topic_id, "topic_title": title}


def screening_outcome(admissible: bool, eligible: bool) -> str:
    """Inadmissible wins: an inadmissible proposal's eligibility was never its outcome."""
    if not admissible:
        return INADMISSIBLE
    return ELIGIBLE if eligible else INELIGIBLE


def rules_in_words(outcomes: Iterable[Mapping], call: Call) -> list[dict[str, str]]:
    """Every failed rule (or warning) as ``{rule, kind, text, details}`` in plain words.

    ``text`` is the producer's message; when it is empty, the rule's description from the
    call, then its id, so a rule is never silently dropped."""
    descriptions = {rule.id: rule.description for rule in call.eligibility}
    return [{"rule": o["rule"], "kind": o.get("kind", ""),
             "text": o.get("message") or descriptions.get(o["rule"]) or
             o["rule"].replace("_", " "),
             "details": plain_values(o.get("values") or {}, call.timezone, call.currency)}
            for o in outcomes]


def evaluation_summary(call: Call, scores: Mapping[str, Decimal], comments: Mapping[str, str],
                       total: Decimal, failed_thresholds: Iterable[str] = ()) -> dict[str, Any]:
    """The evaluation summary report: per criterion (in the call's order, then any other
    criterion the evaluators scored) its score, maximum, threshold and comment; the total
    against the overall threshold; each failed threshold in words."""
    known = {c.id: c for c in call.evaluation.criteria}
    order = [c.id for c in call.evaluation.criteria if c.id in scores or c.id in comments]
    order += sorted(set(scores) - set(order))
    rows = []
    for criterion_id in order:
        criterion = known.get(criterion_id)
        rows.append({
            "id": criterion_id,
            "title": criterion.title if criterion else criterion_id.replace("_", " "),
            "score": number(scores[criterion_id]) if criterion_id in scores else "not scored",
            "max": number(criterion.max_points) if criterion else "",
            "threshold": number(criterion.threshold)
            if criterion and criterion.threshold is not None else "",
            "comment": comments.get(criterion_id, "").strip() or "No comment.",
        })
    return {"criteria": rows, "total": number(total),
            "max_total": number(sum((c.max_points for c in call.evaluation.criteria),
                                    Decimal(0))),
            "overall_threshold": number(call.evaluation.overall_threshold),
            "failed_thresholds": [_threshold_in_words(t, known, scores, total, call)
                                  for t in failed_thresholds]}


def _threshold_in_words(name: str, known, scores, total, call: Call) -> str:
    if name in known and known[name].threshold is not None:
        score = number(scores[name]) if name in scores else "no score"
        return (f"{known[name].title}: {score} points, below the threshold of "
                f"{number(known[name].threshold)}")
    if name in ("overall", "total"):
        return (f"Total: {number(total)} points, below the overall threshold of "
                f"{number(call.evaluation.overall_threshold)}")
    return name.replace("_", " ")
