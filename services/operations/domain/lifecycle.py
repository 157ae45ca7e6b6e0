"""A proposal's state, derived from the set of its facts (architecture guide, section 1).

Events come from four producers through four queues, so they arrive in any order and
sometimes twice. The state is therefore never "the last event received": it is derived
from the whole set, put in order first by ``occurred_at``, then (for events of the same
instant, common with a simulated clock that stands still) by cause (an event comes after
the event that caused it), then by the lifecycle position of its type (:data:`PRECEDENCE`).

Walking that order:

- non-final states only move forward (:data:`PROGRESS`): a late report of an extra
  evaluator does not take an evaluated proposal back to "under evaluation";
- the first final state reached wins (a proposal withdrawn during grant preparation is
  ``withdrawn``, not the ``declined`` its grant file then records);
- only the latest screening, consensus and ranking count, so a re-screening or a new
  ranking of the topic replaces the earlier outcome.

Draft proposals are unknown here (drafts publish nothing). ``reserve`` is final only when
the topic's reserve chain can no longer reach the proposal (:mod:`.reserve`); until then a
reserve-list proposal is ``reserve_list``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from services.operations.domain.facts import Fact

# ---------------------------------------------------------------- states
SUBMITTED = "submitted"
FROZEN = "frozen"
ELIGIBLE = "eligible"
UNDER_EVALUATION = "under_evaluation"
EVALUATED = "evaluated"
MAIN_LIST = "main_list"
RESERVE_LIST = "reserve_list"
GRANT_PREPARATION = "grant_preparation"

WITHDRAWN = "withdrawn"
INADMISSIBLE = "inadmissible"
INELIGIBLE = "ineligible"
REJECTED = "rejected"
RESERVE = "reserve"
DECLINED = "declined"
GRANT_SIGNED = "grant_signed"

#: Non-final states in the order a proposal goes through them.
PROGRESS = (SUBMITTED, FROZEN, ELIGIBLE, UNDER_EVALUATION, EVALUATED, MAIN_LIST,
            RESERVE_LIST, GRANT_PREPARATION)
_RANK = {SUBMITTED: 1, FROZEN: 2, ELIGIBLE: 3, UNDER_EVALUATION: 4, EVALUATED: 5,
         MAIN_LIST: 6, RESERVE_LIST: 6, GRANT_PREPARATION: 7}
#: Every submitted proposal ends in exactly one of these.
FINAL_STATES = (WITHDRAWN, INADMISSIBLE, INELIGIBLE, REJECTED, RESERVE, DECLINED, GRANT_SIGNED)
STATES = PROGRESS + FINAL_STATES

#: Lifecycle position of each event type: the order of events of the same instant that do
#: not cause one another. A withdrawal is a person's act: at an instant shared with
#: automatic steps it comes last (what it causes still comes after it, by causation).
PRECEDENCE = {name: i for i, name in enumerate((
    "call_published", "timetable_stage_reached", "proposal_submitted", "deadline_closed",
    "proposal_screened", "evaluator_assigned", "evaluator_released",
    "evaluation_report_submitted", "evaluation_completed", "ranking_published",
    "reserve_promoted", "grant_preparation_started", "grant_signature_requested",
    "grant_signed", "grant_declined", "time_target_breached", "proposal_withdrawn",
    "notification_delivered", "notification_failed", "notification_deferred"))}

#: Event types that can change a proposal's state or figures; the others (notifications,
#: time targets) only appear in its timeline.
LIFECYCLE_EVENTS = frozenset(PRECEDENCE) - {"call_published", "timetable_stage_reached",
                                            "notification_delivered", "notification_failed",
                                            "notification_deferred", "time_target_breached"}
#: Outcomes that can be issued again; only the latest of each kind counts.
_LATEST_ONLY = ("proposal_screened", "evaluation_completed", "ranking_published")


def ordered(facts: Iterable[Fact]) -> list[Fact]:
    """The facts in lifecycle order: instant, then cause before effect, then type."""
    facts = list(facts)
    by_id = {f.event_id: f for f in facts}
    depth: dict[str, int] = {}

    def depth_of(fact: Fact, seen: frozenset = frozenset()) -> int:
        if fact.event_id not in depth:
            cause = by_id.get(fact.causation_id or "")
            depth[fact.event_id] = 0 if cause is None or cause.event_id in seen \
                else depth_of(cause, seen | {fact.event_id}) + 1
        return depth[fact.event_id]

    return sorted(facts, key=lambda f: (f.occurred_at, depth_of(f),
                                        PRECEDENCE.get(f.event_type, len(PRECEDENCE)),
                                        f.event_id))


@dataclass(frozen=True)
class ProposalView:
    """What operations knows of one proposal."""

    proposal_id: str
    state: str | None = None
    final_state: str | None = None
    state_since: datetime | None = None
    topic_id: str | None = None
    acronym: str | None = None
    title: str | None = None
    applicant_name: str | None = None
    version: int | None = None
    admissible: bool | None = None
    eligible: bool | None = None
    failed_rules: tuple = ()
    total_score: Decimal | None = None
    scores: dict = field(default_factory=dict)
    passed: bool | None = None
    failed_thresholds: tuple = ()
    list: str | None = None  # main | reserve | rejected (latest ranking)
    rank: int | None = None
    ranking_amount: Decimal | None = None  # the grant the ranking counted
    requested_grant: Decimal | None = None
    promoted: bool = False
    grant_id: str | None = None
    grant_amount: Decimal | None = None  # signed amount, else the maximum in preparation
    signed: bool = False
    withdrawal_reason: str | None = None
    decline_reason: str | None = None
    #: every state the proposal went through, with the instant it entered it, in order
    #: (what the "proposals per stage over time" plot reads)
    history: tuple[tuple[str, datetime], ...] = ()

    @property
    def is_final(self) -> bool:
        return self.final_state is not None

    @property
    def failed_rule_ids(self) -> list[str]:
        return [r["rule"] for r in self.failed_rules]


def _dec(text) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def _step(view: ProposalView, fact: Fact) -> tuple[ProposalView, str | None]:
    """Record what ``fact`` says; return the view and the state the fact implies."""
    d, kind = fact.data, fact.event_type
    known = {k: d[k] for k in ("topic_id", "acronym", "title", "applicant_name")
             if d.get(k) is not None}
    view = replace(view, **known)
    if kind == "proposal_submitted":
        return replace(view, version=d["version"]), SUBMITTED
    if kind == "deadline_closed":
        return replace(view, version=d["version"]), FROZEN
    if kind == "proposal_screened":
        view = replace(view, version=d["version"], admissible=d["admissible"],
                       eligible=d["eligible"], failed_rules=tuple(d["failed_rules"]),
                       requested_grant=_dec(d.get("requested_grant")))
        return view, (INADMISSIBLE if not d["admissible"] else
                      INELIGIBLE if not d["eligible"] else ELIGIBLE)
    if kind in ("evaluator_assigned", "evaluation_report_submitted"):
        return view, UNDER_EVALUATION
    if kind == "evaluation_completed":
        return replace(view, total_score=_dec(d["total"]), scores=dict(d["scores"]),
                       passed=d["passed"],
                       failed_thresholds=tuple(d["failed_thresholds"])), EVALUATED
    if kind == "ranking_published":
        view = replace(view, list=d["list"], rank=d.get("rank"),
                       ranking_amount=_dec(d.get("amount")),
                       total_score=view.total_score if d.get("total") is None
                       else _dec(d["total"]))
        return view, {"main": MAIN_LIST, "reserve": RESERVE_LIST}.get(d["list"], REJECTED)
    if kind == "reserve_promoted":
        return replace(view, promoted=True), GRANT_PREPARATION
    if kind == "grant_preparation_started":
        return replace(view, grant_id=d["grant_id"], grant_amount=_dec(d["max_grant"]),
                       promoted=view.promoted or d.get("promoted_from_reserve", False)), \
            GRANT_PREPARATION
    if kind == "grant_signature_requested":
        return view, GRANT_PREPARATION
    if kind == "grant_signed":
        return replace(view, grant_id=d["grant_id"], grant_amount=_dec(d["amount"]),
                       signed=True), GRANT_SIGNED
    if kind == "grant_declined":
        return replace(view, decline_reason=d["reason"]), DECLINED
    if kind == "proposal_withdrawn":
        return replace(view, withdrawal_reason=d.get("reason", "")), WITHDRAWN
    return view, None


def _latest_outcomes(facts: list[Fact]) -> list[Fact]:
    """Drop every screening, consensus and ranking fact but the latest of its kind."""
    latest = {}
    for fact in facts:
        if fact.event_type in _LATEST_ONLY:
            latest[fact.event_type] = fact  # facts are in order: the last one wins
    return [f for f in facts if f.event_type not in _LATEST_ONLY or latest[f.event_type] is f]


def derive(proposal_id: str, facts: Iterable[Fact]) -> ProposalView:
    """The proposal's view from the set of its facts (any order, duplicates ignored)."""
    unique = {f.event_id: f for f in facts}.values()
    view = ProposalView(proposal_id)
    for fact in _latest_outcomes(ordered(unique)):
        view, implied = _step(view, fact)
        if implied is None or view.final_state is not None:
            continue
        if implied in FINAL_STATES:
            view = replace(view, state=implied, final_state=implied,
                           state_since=fact.occurred_at,
                           history=view.history + ((implied, fact.occurred_at),))
        elif view.state is None or _RANK[implied] > _RANK[view.state]:
            view = replace(view, state=implied, state_since=fact.occurred_at,
                           history=view.history + ((implied, fact.occurred_at),))
    return view
