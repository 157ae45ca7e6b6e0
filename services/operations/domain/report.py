"""Figures of a call for people running it: counts per state, each topic's budget line,
grants signed, letters sent: pure functions, and a fold over the proposals' views."""
from __future__ import annotations

import dataclasses
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


@dataclass
class _TopicTally:
    proposals: int = 0
    main: int = 0
    reserve: int = 0
    rejected: int = 0
    promoted: int = 0
    in_preparation: int = 0
    in_preparation_total: Decimal = ZERO
    grants_signed: int = 0
    signed_total: Decimal = ZERO

    def add(self, view: ProposalView) -> None:
        self.proposals += 1
        if view.list in ("main", "reserve", "rejected"):
            setattr(self, view.list, getattr(self, view.list) + 1)
        self.promoted += bool(view.promoted)
        if view.state == GRANT_PREPARATION:
            self.in_preparation += 1
            self.in_preparation_total += view.grant_amount or ZERO
        elif view.state == GRANT_SIGNED:
            self.grants_signed += 1
            self.signed_total += view.grant_amount or ZERO


class CallFigures:
    """Counts per state and each topic's tally, folded over the call's views as they are
    read: a call of 100,000 proposals is summed page by page, never held at once."""

    def __init__(self):
        self.proposals = 0
        self.by_state = {state: 0 for state in STATES}
        self.by_final = {state: 0 for state in FINAL_STATES}
        self.topics: dict[str, _TopicTally] = {}

    def add(self, views: Iterable[ProposalView]) -> "CallFigures":
        for view in views:
            self.proposals += 1
            if view.state in self.by_state:
                self.by_state[view.state] += 1
            if view.final_state in self.by_final:
                self.by_final[view.final_state] += 1
            if view.topic_id:
                self.topics.setdefault(view.topic_id, _TopicTally()).add(view)
        return self

    def counts(self) -> dict:
        return {"proposals": self.proposals, "final": sum(self.by_final.values()),
                "by_state": dict(self.by_state), "by_final_state": dict(self.by_final)}

    def topic_lines(self, topics: Iterable[TopicInfo]) -> list[dict]:
        """Each topic's ranking and budget line: lists, promotions, grants signed against
        the budget, and what remains of it."""
        infos = {t.topic_id: t for t in topics}
        lines = []
        for topic_id in sorted(set(infos) | set(self.topics)):
            info = infos.get(topic_id, TopicInfo(topic_id))
            tally = self.topics.get(topic_id, _TopicTally())
            lines.append({
                "topic_id": topic_id, "title": info.title, "budget": info.budget,
                "ranked": info.ranked, "ranking_funded_total": info.ranking_funded_total,
                **dataclasses.asdict(tally),
                "remaining": None if info.budget is None else info.budget - tally.signed_total,
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


def summary(figures: CallFigures, topics: Iterable[TopicInfo],
            notifications: Mapping[tuple[str, str], int]) -> dict:
    """The summary of the call's report, from the figures of all its views."""
    lines = figures.topic_lines(topics)
    sent = notification_figures(notifications)
    return {
        **figures.counts(),
        "topics": lines,
        "grants_signed": sum(line["grants_signed"] for line in lines),
        "granted_total": sum((line["signed_total"] for line in lines), ZERO),
        "letters_sent": sent["letters_sent"],
        "notifications": {k: sent[k] for k in ("delivered", "failed", "retrying",
                                               "by_template")},
    }
