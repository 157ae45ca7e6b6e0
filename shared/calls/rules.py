"""The catalogue of eligibility rule ids a call file may use, with their param schemas.

This is data about the format, not the checks themselves: the checks live in the
submission service's domain (``services/submission/domain/eligibility.py``), which maps
each id below to one function; a unit test keeps both sides in step. Adding a rule means
adding its entry here and its check there.

``cross_check`` functions see the loaded params (times already resolved to UTC) and the
whole validated document, and return ``(sub_path, message)`` for each problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.calls.fields import Amount, Count, Rate, Time

CrossCheck = Callable[[dict, dict], list[tuple[str, str]]]


class _Params(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


# ---------------------------------------------------------------- param schemas
class MemberSchema(_Params):
    country = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}$", error="must be an ISO 3166-1 alpha-2 code in capitals, e.g. BE"))
    since = Time(load_default=None)  # takes part from this instant (included)
    until = Time(load_default=None)  # no longer takes part from this instant


class ParticipatingCountryParams(_Params):
    members = fields.List(fields.Nested(MemberSchema), required=True,
                          validate=validate.Length(min=1, error="list at least one country"))
    established_anywhere = fields.List(fields.String(), load_default=list)  # entity types
    at_stage = fields.String(load_default="submission_deadline")  # instant of evaluation


class EntityTypeParams(_Params):
    allowed = fields.List(fields.String(), required=True,
                          validate=validate.Length(min=1, error="list at least one type"))


class MinimumParams(_Params):
    min = Count(required=True, minimum=1)


class CofinancingParams(_Params):
    # absent: taken from grant_rules.cofinancing_cap when the file is loaded
    max_rate = Rate(load_default=None)


class GrantRangeParams(_Params):
    min = Amount(required=True)
    max = Amount(required=True)

    @validates_schema
    def _ordered(self, data, **_):
        if "min" in data and "max" in data and data["min"] > data["max"]:
            raise ValidationError(f"min {data['min']} is above max {data['max']}", "min")


class MaxDurationParams(_Params):
    months = Count(required=True, minimum=1)


class NoParams(_Params):
    pass


class NetworkCompositionParams(_Params):
    # share of participants that are local or regional authorities, at least
    min_local_regional_share = Rate(required=True)
    # the local/regional authorities must include experienced and inexperienced ones
    require_experience_mix = fields.Boolean(load_default=True)


# ---------------------------------------------------------------- cross checks
def _participating_country_checks(params: dict, doc: dict) -> list[tuple[str, str]]:
    problems = []
    seen: set[str] = set()
    for i, member in enumerate(params.get("members", [])):
        country, since, until = member.get("country"), member.get("since"), member.get("until")
        if country in seen:
            problems.append((f"members[{i}].country", f"country {country} is listed twice"))
        seen.add(country)
        if since is not None and until is not None and not since < until:
            problems.append((f"members[{i}].until",
                             f"until must be after since for {country}"))
    stage_name = params.get("at_stage")
    kinds = {s.get("name"): s for s in doc.get("timetable", []) if isinstance(s, dict)}
    if stage_name not in kinds:
        problems.append(("at_stage", f"at_stage {stage_name!r} is not a timetable stage"))
    elif "at" not in kinds[stage_name]:
        problems.append(("at_stage", f"at_stage {stage_name!r} must be an instant stage"))
    return problems


def _cofinancing_checks(params: dict, doc: dict) -> list[tuple[str, str]]:
    cap = doc.get("grant_rules", {}).get("cofinancing_cap")
    rate = params.get("max_rate")
    if rate is not None and cap is not None and rate != cap:
        return [("max_rate", f"max_rate {rate} differs from grant_rules.cofinancing_cap "
                             f"{cap}; eligibility and the grant must use one cap")]
    return []


@dataclass(frozen=True)
class RuleSpec:
    """What a rule id means and which params it takes."""

    id: str
    summary: str
    params: type[Schema]
    cross_check: CrossCheck | None = None


RULE_CATALOGUE: dict[str, RuleSpec] = {spec.id: spec for spec in (
    RuleSpec("participating_country",
             "every entity is established in a country taking part in the call at the "
             "instant of `at_stage` (entity types in `established_anywhere` are exempt)",
             ParticipatingCountryParams, _participating_country_checks),
    RuleSpec("entity_type", "every entity is of one of the `allowed` types", EntityTypeParams),
    RuleSpec("min_entities", "at least `min` entities (coordinator + co-applicants)",
             MinimumParams),
    RuleSpec("min_member_states",
             "entities established in at least `min` different participating countries",
             MinimumParams),
    RuleSpec("cofinancing_rate",
             "requested EU grant <= `max_rate` x total eligible costs", CofinancingParams,
             _cofinancing_checks),
    RuleSpec("grant_range", "`min` <= requested EU grant <= `max`", GrantRangeParams),
    RuleSpec("max_duration", "duration of at most `months` months", MaxDurationParams),
    RuleSpec("single_topic",
             "the same project (coordinator organisation + acronym) is submitted to only "
             "one topic of the call", NoParams),
    RuleSpec("network_composition",
             "mostly local/regional authorities, mixing experienced and inexperienced ones",
             NetworkCompositionParams),
)}

#: Conflict-of-interest rules the evaluation service knows (evaluation.conflict_rules).
# conflict-of-interest rules a call may name; evaluation implements each one
# (services/evaluation/domain/conflicts.py; a test keeps the two sets equal)
CONFLICT_RULES: frozenset[str] = frozenset({"same_organisation", "same_country_as_coordinator",
                                            "same_country_as_participant"})
CONSENSUS_METHODS: tuple[str, ...] = ("mean", "rapporteur")
BUDGET_RULES: tuple[str, ...] = ("strict_rank", "skip_to_fit")
SEVERITIES: tuple[str, ...] = ("error", "warning")


def load_params(rule_id: str, raw: Any) -> dict:
    """Validate and type ``raw`` params of ``rule_id``; raises KeyError for an unknown id
    and ValidationError (messages keyed by param) for bad params."""
    return RULE_CATALOGUE[rule_id].params().load(raw if raw is not None else {})


def dump_params(rule_id: str, params: dict) -> dict:
    """The JSON-safe form of loaded ``params`` (Decimal as text, instants as ISO UTC)."""
    return RULE_CATALOGUE[rule_id].params().dump(params)


