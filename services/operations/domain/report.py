"""Figures of a call for people running it: counts per state, each topic's budget line,
grants signed, letters sent. Pure functions over the proposals' views."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from services.operations.domain.lifecycle import (FINAL_STATES, GRANT_PREPARATION,
                                                  GRANT_SIGNED, STATES, ProposalView)

#: Templates whose delivery is a result letter (the outcome told to the applicant).
LETTER_TEMPLATES = ("result_letter",)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TopicInfo:
    topic_id: str
    title: str | None = None
    budget: Decimal | None = None  # the latest ranking's, else the call's
    ranked: bool = False
    ranking_funded_total: Decimal | None = None  # what the ranking put on the main list


def counts(views: Iterable[ProposalView]) -> dict:
    """How many proposals are in each state and in each final state (zeros included)."""
    views = list(views)
    by_state = {state: 0 for state in STATES}
    by_final = {state: 0 for state in FINAL_STATES}
    for view in views:
        if view.state in by_state:
            by_state[view.state] += 1
        if view.final_state in by_final:
            by_final[view.final_state] += 1
    return {"proposals": len(views), "final": sum(by_final.values()),
            "by_state": by_state, "by_final_state": by_final}


def topic_lines(topics: Iterable[TopicInfo], views: Iterable[ProposalView]) -> list[dict]:
    """Each topic's ranking and budget line: lists, promotions, grants signed against the
    budget, and what remains of it."""
    infos = {t.topic_id: t for t in topics}
    by_topic: dict[str, list[ProposalView]] = {}
    for view in views:
        if view.topic_id:
            by_topic.setdefault(view.topic_id, []).append(view)
    lines = []
    for topic_id in sorted(set(infos) | set(by_topic)):
        info = infos.get(topic_id, TopicInfo(topic_id))
        members = by_topic.get(topic_id, [])
        signed = [v for v in members if v.state == GRANT_SIGNED]
        preparing = [v for v in members if v.state == GRANT_PREPARATION]
        signed_total = sum((v.grant_amount or ZERO for v in signed), ZERO)
        lines.append({
            "topic_id": topic_id, "title": info.title, "budget": info.budget,
            "ranked": info.ranked, "ranking_funded_total": info.ranking_funded_total,
            "proposals": len(members),
            "main": sum(v.list == "main" for v in members),
            "reserve": sum(v.list == "reserve" for v in members),
            "rejected": sum(v.list == "rejected" for v in members),
            "promoted": sum(v.promoted for v in members),
            "in_preparation": len(preparing),
            "in_preparation_total": sum((v.grant_amount or ZERO for v in preparing), ZERO),
            "grants_signed": len(signed), "signed_total": signed_total,
            "remaining": None if info.budget is None else info.budget - signed_total,
        })
    return lines


def notification_figures(counted: Mapping[tuple[str, str], int]) -> dict:
    """``counted``: (template, outcome) -> number, outcome ``delivered``, ``failed``,
    ``deferred`` (messages that had to wait for a retry, counted at their first deferral)
    or ``recovered`` (of those, the ones delivered or failed since). ``retrying``: the
    messages still waiting for a retry (the SMTP server down or saying 4xx)."""
    def total(outcome: str, template: str | None = None) -> int:
        return sum(n for (t, o), n in counted.items()
                   if o == outcome and template in (None, t))

    by_template: dict[str, dict] = {}
    for template in sorted({t for t, _ in counted}):
        by_template[template] = {
            "delivered": total("delivered", template), "failed": total("failed", template),
            "retrying": max(total("deferred", template) - total("recovered", template), 0)}
    return {
        "delivered": total("delivered"),
        "failed": total("failed"),
        "retrying": sum(line["retrying"] for line in by_template.values()),
        "letters_sent": sum(n for (t, o), n in counted.items()
                            if o == "delivered" and t in LETTER_TEMPLATES),
        "by_template": by_template,
    }


def summary(views: Iterable[ProposalView], topics: Iterable[TopicInfo],
            notifications: Mapping[tuple[str, str], int]) -> dict:
    """The summary of the call's report."""
    views = list(views)
    lines = topic_lines(topics, views)
    figures = notification_figures(notifications)
    return {
        **counts(views),
        "topics": lines,
        "grants_signed": sum(line["grants_signed"] for line in lines),
        "granted_total": sum((line["signed_total"] for line in lines), ZERO),
        "letters_sent": figures["letters_sent"],
        "notifications": {k: figures[k] for k in ("delivered", "failed", "retrying",
                                                  "by_template")},
    }
