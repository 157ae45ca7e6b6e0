"""A call as plain data: what every service knows of a call once it is loaded.

Pure Python (no marshmallow, no SQLAlchemy) so domain code in every service can use it.
The YAML form and its validation live in :mod:`shared.calls.schema`, reading files and
the wire form in :mod:`shared.calls.loader`; the wire dict travels inside
``call_published`` so each service keeps its own copy.

Every instant in a loaded call is an aware datetime **in UTC**: local wall times in the
file are resolved in the call's zone when it is read. UTC is used because two aware
datetimes that share one ``ZoneInfo`` are compared by wall time (fold ignored), which is
wrong around a DST change; use :meth:`Call.local` to show an instant in the call's zone.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo

#: Stage names other services rely on, with the kind each must have.
STAGE_KINDS: Mapping[str, str] = {
    "publication": "instant",
    "submission_deadline": "instant",
    "evaluation": "period",
    "information_to_applicants": "instant",
    "grant_preparation": "period",
    "signature": "period",
}


@dataclass(frozen=True)
class IntegrationArea:
    """One of the call's areas of integration: a stable id and its label."""

    id: str
    label: str


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    budget: Decimal
    integration_areas: tuple[str, ...] = ()  # ids of Call.integration_areas


@dataclass(frozen=True)
class Stage:
    """A timetable stage: an instant (``starts_at`` only) or a period (``ends_at`` set).

    Instants are aware UTC datetimes, resolved in the call's time zone when the file is
    read. A period is half-open: it runs from ``starts_at`` up to, not including,
    ``ends_at``."""

    name: str
    label: str
    starts_at: datetime
    ends_at: datetime | None = None

    @property
    def kind(self) -> str:
        return "instant" if self.ends_at is None else "period"


@dataclass(frozen=True)
class Rule:
    """An eligibility rule as data: the rule id names the check, ``params`` configure it,
    ``topics`` limits it to some topics (empty: all), ``severity`` is error or warning.

    ``params`` hold typed values once loaded (Decimal, int, aware UTC datetime); their
    shape per rule id is catalogued in :mod:`shared.calls.rules`."""

    id: str
    params: dict[str, Any] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    severity: str = "error"
    description: str = ""

    def applies_to(self, topic_id: str) -> bool:
        return not self.topics or topic_id in self.topics


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    max_points: Decimal
    threshold: Decimal | None = None  # minimum to pass this criterion, if any


@dataclass(frozen=True)
class EvaluationRules:
    evaluators_per_proposal: int
    criteria: tuple[Criterion, ...]
    overall_threshold: Decimal
    tie_break: tuple[str, ...]  # criterion ids, in order of precedence
    consensus_method: str = "mean"  # mean | rapporteur
    spread_threshold: Decimal = Decimal("20")  # max - min of totals that calls for action
    report_due_days: int = 21  # an individual report is due this many days after assignment
    conflict_rules: tuple[str, ...] = ("same_organisation",)
    budget_rule: str = "strict_rank"  # strict_rank | skip_to_fit

    def criterion(self, criterion_id: str) -> Criterion:
        return next(c for c in self.criteria if c.id == criterion_id)

    @property
    def max_total(self) -> Decimal:
        return sum((c.max_points for c in self.criteria), Decimal(0))


@dataclass(frozen=True)
class GrantRules:
    cofinancing_cap: Decimal  # EU grant <= cap * total eligible costs
    preparation_days: int  # coordinator confirms the grant data within this many days
    signature_days: int  # both signatures within this many days of invitation
    prefinancing_rate: Decimal
    tti_target_months: int = 5
    ttg_target_months: int = 8
    redress_days: int = 30  # an applicant may ask for a review within this many days
    #: a promoted reserve proposal gets the full ``signature_days`` even past the end of the
    #: call's ``signature`` period only when the call file says so; by default its signature
    #: deadline is capped at that end
    reserve_signature_after_period: bool = False


@dataclass(frozen=True)
class Call:
    """A validated call document (one version of it)."""

    id: str
    version: int
    title: str
    timezone: str
    currency: str
    budget: Decimal
    topics: tuple[Topic, ...]
    timetable: tuple[Stage, ...]
    required_parts: tuple[str, ...]
    eligibility: tuple[Rule, ...]
    evaluation: EvaluationRules
    grants: GrantRules
    #: Derived when loaded: the countries taking part at the submission deadline, read
    #: from the ``participating_country`` rule (which is the source of truth and can bound
    #: a country's participation in time). Not written to the file or the wire.
    participating_countries: tuple[str, ...] = ()
    integration_areas: tuple[IntegrationArea, ...] = ()

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)

    def stage(self, name: str) -> Stage:
        for stage in self.timetable:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def deadline(self) -> datetime:
        return self.stage("submission_deadline").starts_at

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, instant: datetime) -> datetime:
        """``instant`` shown in the call's time zone (for people; compare in UTC)."""
        return instant.astimezone(self.zone)

    def rules_for(self, topic_id: str) -> tuple[Rule, ...]:
        """The eligibility rules that apply to proposals of ``topic_id``, in file order."""
        return tuple(rule for rule in self.eligibility if rule.applies_to(topic_id))

    def integration_area(self, area_id: str) -> IntegrationArea:
        for area in self.integration_areas:
            if area.id == area_id:
                return area
        raise KeyError(area_id)


def countries_participating(members: list[Mapping[str, Any]], at: datetime) -> tuple[str, ...]:
    """Country codes whose participation covers instant ``at``.

    ``members`` is the ``participating_country`` rule's ``members`` param: entries
    ``{country, since?, until?}`` with aware datetimes; a country takes part from
    ``since`` (included) up to ``until`` (excluded), so a state that leaves at midnight no
    longer takes part at midnight."""
    return tuple(m["country"] for m in members
                 if (m.get("since") is None or m["since"] <= at)
                 and (m.get("until") is None or at < m["until"]))


def add_months(instant: datetime, months: int, timezone: str) -> datetime:
    """The same wall-clock time ``months`` calendar months later in ``timezone``;
    31 January + 1 month is 28 (or 29) February. How the call's time targets (time to
    inform, time to grant: N months after the deadline) fall due."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got {instant!r}")
    local = instant.astimezone(ZoneInfo(timezone))
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Milestone:
    """A point on the timetable at which ``timetable_stage_reached`` is published.

    An instant stage gives one milestone named like the stage; a period gives two,
    ``<name>_start`` and ``<name>_end``."""

    key: str
    label: str
    at: datetime
    stage: str


def milestones(call: Call) -> list[Milestone]:
    """Every milestone of the call's timetable, in time order (ties keep file order)."""
    points: list[Milestone] = []
    for stage in call.timetable:
        if stage.ends_at is None:
            points.append(Milestone(stage.name, stage.label, stage.starts_at, stage.name))
        else:
            points.append(Milestone(f"{stage.name}_start", f"{stage.label} starts",
                                    stage.starts_at, stage.name))
            points.append(Milestone(f"{stage.name}_end", f"{stage.label} ends",
                                    stage.ends_at, stage.name))
    return sorted(points, key=lambda m: m.at)
