"""The figures behind the operations page's plots, computed from the projections alone.

- :func:`stages_over_time`: how many proposals were in each stage at each instant of the
  call, from every proposal's state history (:attr:`ProposalView.history`);
- :func:`topic_scores`: each topic's consensus scores in ranking order, with the
  threshold and the budget line (after the last main-list proposal once the topic is
  ranked; projected from the requested grants before);
- :func:`time_targets`: time to inform and time to grant of each proposal, in days after
  the deadline, against the call's targets (N calendar months, in the call's zone).

Evaluator loads need nothing more than :func:`services.operations.domain.loads.expert_loads`.
Pure functions: no clock is read; the time axis ends at the latest instant the call's
facts reached.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Iterable, Mapping, Sequence

from services.operations.domain import lifecycle as lc
from services.operations.domain.lifecycle import ProposalView
from services.operations.domain.report import TopicInfo
from shared.calls.model import Call, add_months


def N_(message: str) -> str:
    """A text of the operations page, marked for the pages' message catalogue (as
    ``shared.pages.i18n.N_``, which the domain does not import): translated where shown."""
    return message


#: Stages of the plot, in pipeline order: (key, label, states). Every state is in one.
BANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("submitted", N_("Submitted"), (lc.SUBMITTED, lc.FROZEN)),
    ("evaluation", N_("Eligible, in evaluation"), (lc.ELIGIBLE, lc.UNDER_EVALUATION)),
    ("evaluated", N_("Evaluated"), (lc.EVALUATED,)),
    ("funded", N_("Main list, grant preparation"), (lc.MAIN_LIST, lc.GRANT_PREPARATION)),
    ("reserve", N_("Reserve"), (lc.RESERVE_LIST, lc.RESERVE)),
    ("signed", N_("Grant signed"), (lc.GRANT_SIGNED,)),
    ("rejected", N_("Rejected"), (lc.REJECTED,)),
    ("screened_out", N_("Inadmissible or ineligible"), (lc.INADMISSIBLE, lc.INELIGIBLE)),
    ("left", N_("Withdrawn or declined"), (lc.WITHDRAWN, lc.DECLINED)),
)
BAND_OF = {state: key for key, _, states in BANDS for state in states}
SAMPLES = 240  # instants sampled on the time axis (besides the milestones)


@dataclass(frozen=True)
class StageSeries:
    instants: tuple[datetime, ...]  # ascending; the first is the start of the axis
    counts: Mapping[str, tuple[int, ...]]  # band key -> proposals at each instant
    milestones: tuple[tuple[str, datetime], ...]  # (label, instant) within the axis

    @property
    def start(self) -> datetime:
        return self.instants[0]

    @property
    def end(self) -> datetime:
        return self.instants[-1]

    def at(self, index: int) -> dict[str, int]:
        return {key: self.counts[key][index] for key, _, _ in BANDS}


def stages_over_time(views: Iterable[ProposalView],
                     milestones: Sequence[tuple[str, datetime]] = (),
                     samples: int = SAMPLES) -> StageSeries | None:
    """Proposals per stage from the first instant anything happened (a milestone or a
    proposal's first state) to the last; None when there is nothing to show.

    At each sampled instant a proposal is in the last state it entered at or before it.
    A state held from ``t`` until the next state's instant counts on the samples in
    ``[t, next)``: one +1 and one -1 per state, summed along the axis, so the work grows
    with the states entered plus the samples, not with their product."""
    histories = [v.history for v in views if v.history]
    if not histories:
        return None
    points = [at for h in histories for _, at in h] + [at for _, at in milestones]
    start, end = min(points), max(points)
    span = end - start
    instants = sorted({start, end, *(at for _, at in milestones),
                       *(start + span * (i / samples) for i in range(1, samples))})
    size = len(instants)
    changes = {key: [0] * (size + 1) for key, _, _ in BANDS}
    for history in histories:
        for index, (state, since) in enumerate(history):
            first = bisect_left(instants, since)
            last = bisect_left(instants, history[index + 1][1]) \
                if index + 1 < len(history) else size
            if first < last:
                changes[BAND_OF[state]][first] += 1
                changes[BAND_OF[state]][last] -= 1
    return StageSeries(tuple(instants), {key: tuple(accumulate(steps[:size]))
                                         for key, steps in changes.items()},
                       tuple(sorted(milestones, key=lambda m: m[1])))


# ----------------------------------------------------------------------- scores
@dataclass(frozen=True)
class Scored:
    proposal_id: str
    acronym: str | None
    score: Decimal
    list: str | None  # main | reserve | rejected, once ranked
    rank: int | None
    amount: Decimal | None  # the grant the ranking counted, else the requested grant
    passed: bool | None


@dataclass(frozen=True)
class TopicScores:
    topic_id: str
    title: str | None
    threshold: Decimal
    max_score: Decimal
    budget: Decimal | None
    entries: tuple[Scored, ...]  # in ranking order (score order before the ranking)
    funded: int  # the budget line falls after this many entries
    funded_total: Decimal  # what the proposals above the line ask for
    ranked: bool  # False: the budget line is projected from the requested grants


def _ranking_order(entry: Scored):
    return (entry.rank is None, entry.rank or 0, -entry.score, entry.proposal_id)


def _score_order(entry: Scored):
    return (-entry.score, entry.proposal_id)


def _projected_line(entries: Sequence[Scored], budget: Decimal | None) -> int:
    """How many proposals, best score first, fit in the budget before one does not (or
    before one below the threshold): where the budget line would fall by score alone."""
    if budget is None:
        return 0
    used, funded = Decimal(0), 0
    for entry in entries:
        if entry.passed is False or entry.amount is None or used + entry.amount > budget:
            break
        used, funded = used + entry.amount, funded + 1
    return funded


def topic_scores(views: Iterable[ProposalView], call: Call,
                 topics: Iterable[TopicInfo]) -> list[TopicScores]:
    """Every topic with scored proposals, in topic order."""
    by_topic: dict[str, list[Scored]] = {}
    for v in views:
        if v.topic_id and v.total_score is not None:
            by_topic.setdefault(v.topic_id, []).append(Scored(
                v.proposal_id, v.acronym, v.total_score, v.list, v.rank,
                v.ranking_amount if v.ranking_amount is not None else v.requested_grant,
                v.passed))
    infos = {t.topic_id: t for t in topics}
    found = []
    for topic_id in sorted(by_topic):
        entries = by_topic[topic_id]
        info = infos.get(topic_id, TopicInfo(topic_id))
        ranked = any(e.list is not None for e in entries)
        if ranked:
            entries.sort(key=_ranking_order)
            mains = [i for i, e in enumerate(entries) if e.list == "main"]
            funded = mains[-1] + 1 if mains else 0
        else:
            entries.sort(key=_score_order)
            funded = _projected_line(entries, info.budget)
        above = [e for e in entries[:funded] if not ranked or e.list == "main"]
        found.append(TopicScores(
            topic_id, info.title, call.evaluation.overall_threshold,
            call.evaluation.max_total, info.budget, tuple(entries), funded,
            sum((e.amount or Decimal(0) for e in above), Decimal(0)), ranked))
    return found


# ----------------------------------------------------------------------- time targets
@dataclass(frozen=True)
class TargetSeries:
    measure: str  # tti | ttg
    label: str
    target_months: int
    limit_days: float  # days from the deadline to the target's limit
    expected: int  # proposals the measure applies to
    days: tuple[float, ...]  # days from the deadline to each one reached, ascending

    @property
    def within(self) -> int:
        return sum(1 for d in self.days if d <= self.limit_days)

    @property
    def waiting(self) -> int:
        return self.expected - len(self.days)


def _days(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(days=1)


def _entered(view: ProposalView, state: str) -> datetime | None:
    return next((at for s, at in view.history if s == state), None)


def time_targets(views: Iterable[ProposalView], informed_at: Mapping[str, datetime],
                 call: Call) -> tuple[TargetSeries, TargetSeries]:
    """Time to inform (deadline to the first result letter delivered) of every proposal
    frozen at the deadline and not withdrawn, and time to grant (deadline to the signature) of
    every proposal invited to grant preparation whose grant was not declined."""
    deadline, rules = call.deadline, call.grants
    views = list(views)
    # frozen at the deadline: any state after "submitted" (the proposal counted)
    informed = [v for v in views if v.proposal_id in informed_at
                or (any(s != lc.SUBMITTED for s, _ in v.history)
                    and v.final_state != lc.WITHDRAWN)]
    invited = [v for v in views if v.grant_id is not None
               and v.final_state not in (lc.DECLINED, lc.WITHDRAWN)]
    signed = [_entered(v, lc.GRANT_SIGNED) for v in invited]

    def series(measure: str, label: str, months: int, expected: int,
               reached: Iterable[datetime]) -> TargetSeries:
        limit = add_months(deadline, months, call.timezone)
        return TargetSeries(measure, label, months, _days(deadline, limit), expected,
                            tuple(sorted(_days(deadline, at) for at in reached)))

    return (series("tti", N_("Time to inform"), rules.tti_target_months, len(informed),
                   [informed_at[v.proposal_id] for v in informed
                    if v.proposal_id in informed_at]),
            series("ttg", N_("Time to grant"), rules.ttg_target_months, len(invited),
                   [at for at in signed if at is not None]))
