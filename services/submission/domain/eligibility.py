"""Eligibility rules as data: each rule id of the call maps to one check function here.

A check takes the rule's params, the frozen proposal and the context (the call, and the
other frozen proposals of the call for ``single_topic``) and returns every failure it
finds, each with a plain-words message and the values that failed it (JSON-safe: money
as text, instants as ISO UTC) so an applicant can see exactly why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from services.submission.domain.deadline import utc_iso
from services.submission.domain.errors import UnknownRule
from services.submission.domain.proposal import FrozenProposal, Participant, Rival
from shared.calls.model import Call, Rule, countries_participating


@dataclass(frozen=True)
class RuleFailure:
    """One broken rule: ``kind`` is admissibility or eligibility; ``severity`` error or
    warning (a warning does not make the proposal ineligible)."""

    rule: str
    kind: str
    message: str
    values: dict = field(default_factory=dict)
    severity: str = "error"

    def to_dict(self) -> dict:
        """The ``RuleOutcomeSchema`` form carried by ``proposal_screened``."""
        return {"rule": self.rule, "kind": self.kind, "message": self.message,
                "values": self.values}


@dataclass(frozen=True)
class RuleContext:
    call: Call
    #: the other frozen proposals of the call, or their :class:`Rival` summaries (the
    #: only rule that compares proposals, single_topic, reads no more)
    others: tuple[FrozenProposal | Rival, ...] = ()


#: what a check returns: (message, values) per failure
Found = list[tuple[str, dict]]
Check = Callable[[Mapping[str, Any], FrozenProposal, RuleContext], Found]


# ----------------------------------------------------------------------- helpers
def _entity(role: str, participant: Participant, **extra: Any) -> dict:
    return {"role": role, "legal_name": participant.legal_name,
            "organisation_id": participant.organisation_id, "country": participant.country,
            **extra}


def _names(entities: list[dict], key: str) -> str:
    return "; ".join(f"{e['legal_name']} ({e['organisation_id']}, {e[key]})" for e in entities)


def _money(amount: Decimal, call: Call) -> str:
    return f"{call.currency} {amount:,.2f}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def _local(instant, call: Call) -> str:
    return f"{call.local(instant):%Y-%m-%d %H:%M} ({call.timezone})"


def _participating_at(params: Mapping[str, Any], call: Call):
    at = call.stage(params.get("at_stage", "submission_deadline")).starts_at
    return at, set(countries_participating(params["members"], at))


# ----------------------------------------------------------------------- checks
def check_participating_country(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """Every entity is established in a country taking part at the rule's instant
    (the submission deadline), unless its type may be established anywhere."""
    at, members = _participating_at(params, ctx.call)
    anywhere = set(params.get("established_anywhere", ()))
    offenders = [_entity(role, p) for role, p in proposal.content.participants
                 if p.entity_type not in anywhere and p.country not in members]
    if not offenders:
        return []
    return [(f"Not established in a country taking part in the call on "
             f"{_local(at, ctx.call)}: {_names(offenders, 'country')}.",
             {"entities": offenders, "evaluated_at": utc_iso(at)})]


def check_entity_type(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """Every entity is of an allowed type."""
    allowed = list(params["allowed"])
    offenders = [_entity(role, p, entity_type=p.entity_type)
                 for role, p in proposal.content.participants if p.entity_type not in allowed]
    if not offenders:
        return []
    return [(f"Entity type not allowed (allowed: {', '.join(allowed)}): "
             f"{_names(offenders, 'entity_type')}.",
             {"entities": offenders, "allowed": allowed})]


def check_min_entities(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """At least ``min`` entities: the coordinator and the co-applicants."""
    count, minimum = len(proposal.content.participants), params["min"]
    if count >= minimum:
        return []
    return [(f"The consortium has {count} entities; at least {minimum} are required.",
             {"entities": count, "min": minimum})]


def check_min_member_states(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """Entities in at least ``min`` different countries; when the topic has a
    ``participating_country`` rule only participating countries count."""
    countries = {p.country for _, p in proposal.content.participants}
    membership = next((r for r in ctx.call.rules_for(proposal.topic_id)
                       if r.id == "participating_country"), None)
    counted = countries & _participating_at(membership.params, ctx.call)[1] \
        if membership else countries
    minimum = params["min"]
    if len(counted) >= minimum:
        return []
    return [(f"The entities are established in {len(counted)} participating Member "
             f"State(s) ({', '.join(sorted(counted)) or 'none'}); at least {minimum} "
             f"different ones are required.",
             {"countries": sorted(counted), "not_counted": sorted(countries - counted),
              "count": len(counted), "min": minimum})]


def check_cofinancing_rate(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """Requested grant <= max_rate x total eligible costs, in exact Decimal arithmetic
    (exactly the cap passes)."""
    rate = params.get("max_rate")
    if rate is None:  # a call built by hand: the grant rules' cap is the one cap
        rate = ctx.call.grants.cofinancing_cap
    costs, requested = proposal.content.total_eligible_costs, proposal.content.requested_grant
    ceiling = rate * costs  # exact: no rounding, so 90 % of the costs passes
    if requested <= ceiling:
        return []
    return [(f"The requested EU grant of {_money(requested, ctx.call)} is more than "
             f"{_percent(rate)} of the total eligible costs of {_money(costs, ctx.call)} "
             f"(at most {_money(ceiling, ctx.call)}).",
             {"requested_grant": str(requested), "total_eligible_costs": str(costs),
              "max_rate": str(rate), "max_grant": str(ceiling)})]


def check_grant_range(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """min <= requested grant <= max, both edges included."""
    low, high = params["min"], params["max"]
    requested = proposal.content.requested_grant
    if low <= requested <= high:
        return []
    return [(f"The requested EU grant of {_money(requested, ctx.call)} is outside the "
             f"range {_money(low, ctx.call)} to {_money(high, ctx.call)}.",
             {"requested_grant": str(requested), "min": str(low), "max": str(high)})]


def check_max_duration(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """The project lasts at most ``months`` months."""
    months, limit = proposal.content.duration_months, params["months"]
    if months <= limit:
        return []
    return [(f"The project lasts {months} months; at most {limit} are allowed.",
             {"duration_months": months, "max_months": limit})]


def _project_key(proposal: FrozenProposal | Rival) -> tuple[str, str]:
    # the same project: same coordinator organisation and acronym, however spelt/cased
    return proposal.project_key


def check_single_topic(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """The same project (coordinator organisation + acronym) is not submitted to another
    topic of the call; every copy fails, since none can be preferred."""
    key = _project_key(proposal)
    clashes = [{"proposal_id": o.proposal_id, "topic_id": o.topic_id} for o in ctx.others
               if o.call_id == proposal.call_id and o.proposal_id != proposal.proposal_id
               and o.topic_id != proposal.topic_id and _project_key(o) == key]
    if not clashes:
        return []
    topics = sorted({c["topic_id"] for c in clashes})
    return [(f"The same project ({proposal.content.acronym}, coordinated by "
             f"{proposal.content.coordinator.organisation_id}) was also submitted to "
             f"{', '.join(topics)}; an application may address one topic only.",
             {"acronym": proposal.content.acronym,
              "coordinator_organisation_id": proposal.content.coordinator.organisation_id,
              "topic_id": proposal.topic_id, "also_submitted": clashes})]


def check_network_composition(params, proposal: FrozenProposal, ctx: RuleContext) -> Found:
    """Mostly local/regional authorities (share >= min), mixing experienced and
    inexperienced ones. Meant as a warning-severity rule."""
    people = [p for _, p in proposal.content.participants]
    authorities = [p for p in people if p.local_or_regional_authority]
    share = params["min_local_regional_share"]
    found: Found = []
    if Decimal(len(authorities)) < share * len(people):  # no division: exact
        found.append((f"{len(authorities)} of {len(people)} entities are local or regional "
                      f"authorities; the network should be at least {_percent(share)} "
                      "local or regional authorities.",
                      {"local_regional_authorities": len(authorities),
                       "entities": len(people), "min_share": str(share)}))
    experienced = sum(p.experienced_in_integration for p in authorities)
    if params.get("require_experience_mix", True) and \
            not 0 < experienced < len(authorities):
        found.append(("The local and regional authorities should include both "
                      "authorities experienced in integration and ones with little or no "
                      "experience.",
                      {"experienced": experienced,
                       "inexperienced": len(authorities) - experienced}))
    return found


#: rule id -> check; must name exactly the ids of shared.calls.rules.RULE_CATALOGUE
CHECKS: dict[str, Check] = {
    "participating_country": check_participating_country,
    "entity_type": check_entity_type,
    "min_entities": check_min_entities,
    "min_member_states": check_min_member_states,
    "cofinancing_rate": check_cofinancing_rate,
    "grant_range": check_grant_range,
    "max_duration": check_max_duration,
    "single_topic": check_single_topic,
    "network_composition": check_network_composition,
}


def ensure_known_rules(call: Call) -> None:
    """Raise :class:`UnknownRule` naming every rule id of ``call`` without a check."""
    unknown = sorted({rule.id for rule in call.eligibility if rule.id not in CHECKS})
    if unknown:
        raise UnknownRule(f"call {call.id} v{call.version} uses eligibility rule id(s) "
                          f"{', '.join(unknown)} that this service cannot check; known: "
                          f"{', '.join(sorted(CHECKS))}")


def apply_rule(rule: Rule, proposal: FrozenProposal, ctx: RuleContext) -> list[RuleFailure]:
    """Every failure of one rule for one proposal."""
    if rule.id not in CHECKS:
        raise UnknownRule(f"no check for eligibility rule id {rule.id!r}")
    return [RuleFailure(rule.id, "eligibility", message, values, rule.severity)
            for message, values in CHECKS[rule.id](rule.params, proposal, ctx)]


def check_eligibility(call: Call, proposal: FrozenProposal,
                      others: tuple[FrozenProposal | Rival, ...] = ()) -> list[RuleFailure]:
    """Every failure (errors and warnings) of the rules that apply to the proposal's
    topic, in the call's rule order. Raises UnknownRule before checking anything if the
    call names a rule this service does not know."""
    ensure_known_rules(call)
    ctx = RuleContext(call, tuple(others))
    return [failure for rule in call.rules_for(proposal.topic_id)
            for failure in apply_rule(rule, proposal, ctx)]
