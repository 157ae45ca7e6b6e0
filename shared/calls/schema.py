"""The call file format (version 1): its marshmallow schema and every rule it obeys.

:func:`check_document` is the one validator: it takes a parsed document (from YAML or
from the wire) and returns the normalised document plus **every** problem found, each
with a path like ``topics[2].budget``. Structure is checked by marshmallow; whatever
loaded is then checked for the cross-field rules (budgets, timetable order, DST, rule
ids and params, thresholds, tie-break ids), so one bad field does not hide the others.
:func:`build_call` and :func:`call_to_document` convert between documents and
:class:`~shared.calls.model.Call`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.calls import rules
from shared.calls.fields import Amount, Count, LocalTimeError, Rate, Time, WallTime, \
    resolve_wall_time
from shared.calls.model import (STAGE_KINDS, Call, Criterion, EvaluationRules, GrantRules,
                                IntegrationArea, Rule, Stage, Topic, countries_participating)

FORMAT_VERSION = 1
_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                      error="must be an identifier (letters, digits, '_', '-', '.')")
_TEXT = validate.Length(min=1, error="must not be empty")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a call document: where (``path``, and ``line`` in the file
    when known) and which rule it breaks (``message``)."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "(document)"
        return f"{where}: {self.message}" + (f" (line {self.line})" if self.line else "")


class InvalidCall(ValueError):
    """A call document that does not validate; ``problems`` lists every problem."""

    def __init__(self, problems: list[Problem], source: str = "call"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} is not a valid call ({len(self.problems)} "
                         f"problem(s)):\n{lines}")


# ------------------------------------------------------------------------- schemas
class _Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt key is a problem, not a silently ignored value
        ordered = True


class IntegrationAreaSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    label = fields.String(required=True, validate=_TEXT)


class TopicSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    title = fields.String(required=True, validate=_TEXT)
    budget = Amount(required=True, positive=True)
    integration_areas = fields.List(fields.String(), load_default=list)


class StageSchema(_Strict):
    name = fields.String(required=True, validate=_ID)
    label = fields.String(required=True, validate=_TEXT)
    at = Time()  # an instant ...
    start = Time()  # ... or a period [start, end)
    end = Time()

    @validates_schema
    def _instant_or_period(self, data, **_):
        instant, period = "at" in data, ("start" in data, "end" in data)
        if instant and any(period) or not instant and period != (True, True):
            raise ValidationError(
                "give either 'at' (an instant) or both 'start' and 'end' (a period)")


class AdmissibilitySchema(_Strict):
    required_parts = fields.List(fields.String(validate=_ID), required=True,
                                 validate=validate.Length(min=1, error="list at least one part"))


class RuleSchema(_Strict):
    id = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)
    topics = fields.List(fields.String(), load_default=list)
    severity = fields.String(load_default="error", validate=validate.OneOf(
        rules.SEVERITIES, error="must be one of: {choices}"))
    description = fields.String(load_default="")


class CriterionSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    title = fields.String(required=True, validate=_TEXT)
    max_points = Amount(required=True, positive=True)
    threshold = Amount(load_default=None, allow_none=True)


class EvaluationSchema(_Strict):
    evaluators_per_proposal = Count(required=True, minimum=1)
    criteria = fields.List(fields.Nested(CriterionSchema), required=True,
                           validate=validate.Length(min=1, error="list at least one criterion"))
    overall_threshold = Amount(required=True)
    tie_break = fields.List(fields.String(), required=True)
    consensus_method = fields.String(load_default="mean", validate=validate.OneOf(
        rules.CONSENSUS_METHODS, error="must be one of: {choices}"))
    spread_threshold = Amount(load_default=Decimal("20"))
    report_due_days = Count(load_default=21, minimum=1)
    conflict_rules = fields.List(fields.String(validate=validate.OneOf(
        sorted(rules.CONFLICT_RULES), error="unknown conflict rule; known: {choices}")),
        load_default=lambda: ["same_organisation"])
    budget_rule = fields.String(load_default="strict_rank", validate=validate.OneOf(
        rules.BUDGET_RULES, error="must be one of: {choices}"))


class GrantRulesSchema(_Strict):
    cofinancing_cap = Rate(required=True, positive=True)
    preparation_days = Count(required=True, minimum=1)
    signature_days = Count(required=True, minimum=1)
    prefinancing_rate = Rate(required=True)
    tti_target_months = Count(load_default=5, minimum=1)
    ttg_target_months = Count(load_default=8, minimum=1)
    redress_days = Count(load_default=30, minimum=1)
    reserve_signature_after_period = fields.Boolean(load_default=False)


class CallSchema(_Strict):
    format_version = fields.Integer(required=True, strict=True, validate=validate.Equal(
        FORMAT_VERSION, error=f"unsupported format_version; this reader knows {FORMAT_VERSION}"))
    id = fields.String(required=True, validate=_ID)
    version = Count(required=True, minimum=1)
    title = fields.String(required=True, validate=_TEXT)
    timezone = fields.String(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}$", error="must be an ISO 4217 code such as EUR"))
    budget = Amount(required=True, positive=True)
    integration_areas = fields.List(fields.Nested(IntegrationAreaSchema), load_default=list)
    topics = fields.List(fields.Nested(TopicSchema), required=True,
                         validate=validate.Length(min=1, error="list at least one topic"))
    timetable = fields.List(fields.Nested(StageSchema), required=True)
    admissibility = fields.Nested(AdmissibilitySchema, required=True)
    eligibility = fields.List(fields.Nested(RuleSchema), load_default=list)
    evaluation = fields.Nested(EvaluationSchema, required=True)
    grant_rules = fields.Nested(GrantRulesSchema, required=True)


# ------------------------------------------------------------------------- checking
def check_document(raw: Any) -> tuple[dict | None, list[Problem]]:
    """Validate a parsed call document. Returns ``(document, problems)``: the normalised
    document (instants as aware UTC datetimes, rule params typed) when there is no
    problem, else ``None`` and every problem found."""
    if raw is None:
        return None, [Problem("", "the document is empty")]
    problems: list[Problem] = []
    try:
        doc = CallSchema().load(raw)
    except ValidationError as error:
        problems += [Problem(p, m) for p, m in flatten_messages(error.messages)]
        doc = error.valid_data if isinstance(error.valid_data, dict) else {}
    problems += _check_loaded(doc)
    return (None if problems else doc), problems


#: marshmallow's stock wording, said the way a call author reads it
_PLAIN = {"Unknown field.": f"unknown field: not part of call format {FORMAT_VERSION}",
          "Missing data for required field.": "required field is missing"}


def flatten_messages(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """marshmallow's nested error messages as ``(path, message)`` pairs."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if key == "_schema":
                child = prefix
            elif isinstance(key, int):
                child = f"{prefix}[{key}]"
            else:
                child = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten_messages(sub, child)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            yield from flatten_messages(message, prefix)
    else:
        yield prefix, _PLAIN.get(str(messages), str(messages))


def _check_loaded(doc: dict) -> list[Problem]:
    """Cross-field rules over whatever loaded; each check skips what is missing."""
    problems: list[Problem] = []
    zone = _zone(doc, problems)
    _resolve_times(doc, zone, problems)
    _check_areas(doc, problems)
    _check_topics(doc, problems)
    _check_timetable(doc, problems)
    _check_parts(doc, problems)
    _check_eligibility(doc, zone, problems)
    _check_evaluation(doc, problems)
    _check_grant_rules(doc, problems)
    return problems


def _zone(doc: dict, problems: list[Problem]) -> ZoneInfo | None:
    name = doc.get("timezone")
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(Problem("timezone", f"unknown time zone {name!r}; use an IANA "
                                            "name such as Europe/Brussels"))
        return None


def _resolve_times(node: Any, zone: ZoneInfo | None, problems: list[Problem],
                   path: str = "") -> Any:
    """Replace every WallTime under ``node`` (in place) by its UTC instant; a time that
    cannot be resolved is dropped and reported, so later checks skip it."""
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        child = f"{path}[{key}]" if isinstance(key, int) else \
            f"{path}.{key}" if path else key
        if isinstance(value, WallTime):
            instant = _resolve_one(value, zone, child, problems)
            if instant is None and isinstance(node, dict):
                del node[key]
            else:
                node[key] = instant
        else:
            _resolve_times(value, zone, problems, child)
    return node


def _resolve_one(wall: WallTime, zone: ZoneInfo | None, path: str,
                 problems: list[Problem]) -> datetime | None:
    if wall.value.utcoffset() is None and zone is None:
        return None  # the zone is missing or bad: already reported
    try:
        return resolve_wall_time(wall, zone)
    except LocalTimeError as error:
        problems.append(Problem(path, str(error)))
        return None


def _check_areas(doc: dict, problems: list[Problem]) -> None:
    _duplicates(doc.get("integration_areas", []), "id", "integration_areas",
                "integration area", problems)


def _check_topics(doc: dict, problems: list[Problem]) -> None:
    topics = doc.get("topics", [])
    _duplicates(topics, "id", "topics", "topic", problems)
    area_ids = {a.get("id") for a in doc.get("integration_areas", [])}
    for i, topic in enumerate(topics):
        for j, area in enumerate(topic.get("integration_areas", [])):
            if area not in area_ids:
                problems.append(Problem(f"topics[{i}].integration_areas[{j}]",
                                        f"integration area {area!r} is not declared in "
                                        "integration_areas"))
    budgets = [t["budget"] for t in topics if "budget" in t]
    if "budget" in doc and budgets and sum(budgets) > doc["budget"]:
        problems.append(Problem("topics", f"topic budgets sum to {sum(budgets):,}, above the "
                                          f"call budget of {doc['budget']:,}"))


def _check_timetable(doc: dict, problems: list[Problem]) -> None:
    if "timetable" not in doc:
        return
    stages = doc["timetable"]
    _duplicates(stages, "name", "timetable", "stage", problems)
    if not any(s.get("name") == "submission_deadline" for s in stages):
        problems.append(Problem("timetable", "the stage 'submission_deadline' is missing"))
    previous: tuple[int, datetime] | None = None
    for i, stage in enumerate(stages):
        name, kind = stage.get("name"), "instant" if "at" in stage else "period"
        if name in STAGE_KINDS and STAGE_KINDS[name] != kind and ("at" in stage or "start" in stage):
            field = "at" if "at" in stage else "start"
            problems.append(Problem(f"timetable[{i}].{field}",
                                    f"stage {name!r} must be an {STAGE_KINDS[name]}"))
        start = stage.get("at", stage.get("start"))
        if "start" in stage and "end" in stage and not stage["start"] < stage["end"]:
            problems.append(Problem(f"timetable[{i}].end",
                                    f"stage {name!r} must end after it starts"))
        if start is None:
            continue
        if previous and start < previous[1]:
            problems.append(Problem(f"timetable[{i}].{'at' if 'at' in stage else 'start'}",
                                    f"timetable out of order: {name!r} starts before "
                                    f"{stages[previous[0]].get('name')!r} (timetable[{previous[0]}])"))
        previous = (i, start)


def _check_parts(doc: dict, problems: list[Problem]) -> None:
    parts = doc.get("admissibility", {}).get("required_parts", [])
    for i, part in enumerate(parts):
        if part in parts[:i]:
            problems.append(Problem(f"admissibility.required_parts[{i}]",
                                    f"part {part!r} is listed twice"))


def _check_eligibility(doc: dict, zone: ZoneInfo | None, problems: list[Problem]) -> None:
    topic_ids = {t.get("id") for t in doc.get("topics", [])}
    for i, rule in enumerate(doc.get("eligibility", [])):
        path = f"eligibility[{i}]"
        for j, topic in enumerate(rule.get("topics", [])):
            if topic not in topic_ids:
                problems.append(Problem(f"{path}.topics[{j}]", f"topic {topic!r} is not a "
                                                                "topic of this call"))
        rule_id = rule.get("id")
        if rule_id is None:
            continue
        spec = rules.RULE_CATALOGUE.get(rule_id)
        if spec is None:
            problems.append(Problem(f"{path}.id", f"unknown eligibility rule id {rule_id!r}; "
                                                  f"known: {', '.join(sorted(rules.RULE_CATALOGUE))}"))
            rule.pop("params", None)
            continue
        try:
            params = spec.params().load(rule.get("params", {}))
        except ValidationError as error:
            problems += [Problem(p, m) for p, m in
                         flatten_messages(error.messages, f"{path}.params")]
            rule.pop("params", None)
            continue
        rule["params"] = _resolve_times(params, zone, problems, f"{path}.params")
        if spec.cross_check:
            problems += [Problem(f"{path}.params.{sub}", message)
                         for sub, message in spec.cross_check(rule["params"], doc)]
        if rule_id == "cofinancing_rate" and rule["params"].get("max_rate") is None:
            # one cap for eligibility and the grant: the rule inherits the grant rules'
            rule["params"]["max_rate"] = doc.get("grant_rules", {}).get("cofinancing_cap")


def _check_evaluation(doc: dict, problems: list[Problem]) -> None:
    evaluation = doc.get("evaluation")
    if not evaluation:
        return
    criteria = evaluation.get("criteria", [])
    _duplicates(criteria, "id", "evaluation.criteria", "criterion", problems)
    for i, criterion in enumerate(criteria):
        threshold, top = criterion.get("threshold"), criterion.get("max_points")
        if threshold is not None and top is not None and threshold > top:
            problems.append(Problem(f"evaluation.criteria[{i}].threshold",
                                    f"threshold {threshold} is above max_points {top}"))
    total = sum((c["max_points"] for c in criteria if "max_points" in c), Decimal(0))
    overall = evaluation.get("overall_threshold")
    if overall is not None and criteria and all("max_points" in c for c in criteria) \
            and overall > total:
        problems.append(Problem("evaluation.overall_threshold",
                                f"overall threshold {overall} is above the maximum total "
                                f"of {total} points"))
    ids = {c.get("id") for c in criteria}
    tie_break = evaluation.get("tie_break", [])
    for i, criterion_id in enumerate(tie_break):
        if criterion_id not in ids:
            problems.append(Problem(f"evaluation.tie_break[{i}]",
                                    f"tie-break {criterion_id!r} is not a criterion id"))
        elif criterion_id in tie_break[:i]:
            problems.append(Problem(f"evaluation.tie_break[{i}]",
                                    f"tie-break {criterion_id!r} is listed twice"))


def _check_grant_rules(doc: dict, problems: list[Problem]) -> None:
    grants = doc.get("grant_rules", {})
    tti, ttg = grants.get("tti_target_months"), grants.get("ttg_target_months")
    if tti is not None and ttg is not None and ttg < tti:
        problems.append(Problem("grant_rules.ttg_target_months",
                                f"time to grant ({ttg} months) cannot be shorter than time "
                                f"to inform ({tti} months)"))


def _duplicates(items: list, key: str, path: str, what: str, problems: list[Problem]) -> None:
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        value = item.get(key)
        if value is None:
            continue
        if value in seen:
            problems.append(Problem(f"{path}[{i}].{key}", f"duplicate {what} {key} {value!r} "
                                                          f"(also {path}[{seen[value]}])"))
        else:
            seen[value] = i


# ------------------------------------------------------------------------- conversion
def build_call(doc: dict) -> Call:
    """The :class:`Call` of a document that :func:`check_document` accepted."""
    evaluation, grants = doc["evaluation"], doc["grant_rules"]
    eligibility = tuple(Rule(id=r["id"], params=r["params"], topics=tuple(r["topics"]),
                             severity=r["severity"], description=r["description"])
                        for r in doc["eligibility"])
    timetable = tuple(Stage(s["name"], s["label"], s.get("at", s.get("start")), s.get("end"))
                      for s in doc["timetable"])
    return Call(
        id=doc["id"], version=doc["version"], title=doc["title"], timezone=doc["timezone"],
        currency=doc["currency"], budget=doc["budget"],
        topics=tuple(Topic(t["id"], t["title"], t["budget"], tuple(t["integration_areas"]))
                     for t in doc["topics"]),
        timetable=timetable,
        required_parts=tuple(doc["admissibility"]["required_parts"]),
        eligibility=eligibility,
        evaluation=EvaluationRules(
            evaluators_per_proposal=evaluation["evaluators_per_proposal"],
            criteria=tuple(Criterion(c["id"], c["title"], c["max_points"], c["threshold"])
                           for c in evaluation["criteria"]),
            overall_threshold=evaluation["overall_threshold"],
            tie_break=tuple(evaluation["tie_break"]),
            consensus_method=evaluation["consensus_method"],
            spread_threshold=evaluation["spread_threshold"],
            report_due_days=evaluation["report_due_days"],
            conflict_rules=tuple(evaluation["conflict_rules"]),
            budget_rule=evaluation["budget_rule"]),
        grants=GrantRules(**grants),
        participating_countries=_participating_at_deadline(eligibility, timetable),
        integration_areas=tuple(IntegrationArea(a["id"], a["label"])
                                for a in doc["integration_areas"]),
    )


def _participating_at_deadline(eligibility: tuple[Rule, ...],
                               timetable: tuple[Stage, ...]) -> tuple[str, ...]:
    rule = next((r for r in eligibility if r.id == "participating_country"), None)
    if rule is None:
        return ()
    at = next(s.starts_at for s in timetable if s.name == rule.params["at_stage"])
    return countries_participating(rule.params["members"], at)


def call_to_document(call: Call) -> dict:
    """The document of ``call`` (typed values, rule params dumped JSON-safe); dump it with
    :class:`CallSchema` for the wire."""
    evaluation = call.evaluation
    return {
        "format_version": FORMAT_VERSION, "id": call.id, "version": call.version,
        "title": call.title, "timezone": call.timezone, "currency": call.currency,
        "budget": call.budget,
        "integration_areas": [{"id": a.id, "label": a.label} for a in call.integration_areas],
        "topics": [{"id": t.id, "title": t.title, "budget": t.budget,
                    "integration_areas": list(t.integration_areas)} for t in call.topics],
        "timetable": [_stage_document(s) for s in call.timetable],
        "admissibility": {"required_parts": list(call.required_parts)},
        "eligibility": [{"id": r.id, "params": rules.dump_params(r.id, r.params),
                         "topics": list(r.topics), "severity": r.severity,
                         "description": r.description} for r in call.eligibility],
        "evaluation": {
            "evaluators_per_proposal": evaluation.evaluators_per_proposal,
            "criteria": [{"id": c.id, "title": c.title, "max_points": c.max_points,
                          "threshold": c.threshold} for c in evaluation.criteria],
            "overall_threshold": evaluation.overall_threshold,
            "tie_break": list(evaluation.tie_break),
            "consensus_method": evaluation.consensus_method,
            "spread_threshold": evaluation.spread_threshold,
            "report_due_days": evaluation.report_due_days,
            "conflict_rules": list(evaluation.conflict_rules),
            "budget_rule": evaluation.budget_rule},
        "grant_rules": {name: getattr(call.grants, name)
                        for name in GrantRulesSchema().fields},
    }


def _stage_document(stage: Stage) -> dict:
    if stage.ends_at is None:
        return {"name": stage.name, "label": stage.label, "at": stage.starts_at}
    return {"name": stage.name, "label": stage.label, "start": stage.starts_at,
            "end": stage.ends_at}
