"""Conflicts of interest, and the guard that keeps a conflicted expert from seeing a proposal.

Three sources make an expert conflicted on a proposal:

- rules, named per call in ``EvaluationRules.conflict_rules`` and looked up in
  :data:`CONFLICT_RULES` (each a plain function of the expert and the consortium);
  ``same_organisation`` is always applied, listed or not, because the call document makes
  it a hard rule and a configuration slip must not switch it off;
- a declaration by the expert, on a proposal assigned to them, with a reason;
- a declaration by operations, on any pair, with a reason.

Declarations are never lifted here: a conflict once declared stays (the cautious reading;
an erroneous one is corrected by operations outside this module).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence, TypeVar

from services.evaluation.domain.experts import Expert
from services.evaluation.domain.pairs import PairSet
from shared.calls.model import EvaluationRules
from shared.identifiers import organisation_key

MANDATORY_RULES: tuple[str, ...] = ("same_organisation",)

# EU documents write Greece and the United Kingdom as EL and UK, ISO as GR and GB;
# a country rule must match either spelling.
_COUNTRY_ALIASES = {"GR": "EL", "GB": "UK"}


def require_aware(moment: datetime, name: str = "now") -> datetime:
    """Return ``moment`` if it is timezone-aware, else raise ValueError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment


def _country(code: str) -> str:
    code = code.strip().upper()
    return _COUNTRY_ALIASES.get(code, code)


def _organisation(org_id: str) -> str:
    # look-alikes (zero-width characters, other hyphens, fullwidth letters) compare equal;
    # over-matching only costs a reassignment, under-matching breaks the rule
    return organisation_key(org_id)


@dataclass(frozen=True)
class Participant:
    organisation_id: str
    country: str
    role: str = "co_applicant"  # coordinator | co_applicant
    legal_name: str = ""


@dataclass(frozen=True)
class Consortium:
    """The parties of one proposal, as far as conflicts are concerned."""

    proposal_id: str
    participants: tuple[Participant, ...]

    @classmethod
    def from_snapshot(cls, proposal_id: str, snapshot: Mapping[str, Any]) -> "Consortium":
        """From the ``proposal`` dict of ``proposal_screened`` (ProposalSnapshotSchema)."""
        return cls(proposal_id, tuple(
            Participant(p["organisation_id"], p["country"], p.get("role", "co_applicant"),
                        p.get("legal_name", ""))
            for p in snapshot["participants"]))

    @property
    def coordinator(self) -> Participant | None:
        return next((p for p in self.participants if p.role == "coordinator"), None)


# ------------------------------------------------------------------ rules
ConflictRule = Callable[[Expert, Consortium], "str | None"]


def _keyed(expert_key: Callable[[Expert], str],
           consortium_keys: Callable[[Consortium], Collection[str]],
           describe: Callable[[Expert, Consortium, str], str]) -> ConflictRule:
    """A rule that holds when the expert's key is one of the consortium's keys.

    Written once as keys, a rule serves both the question for one pair (the returned
    function, with the reason in words) and :func:`conflict_pairs`, which joins the keys
    instead of asking every pair (57 million pairs at the benchmark's size)."""
    def rule(expert: Expert, consortium: Consortium) -> str | None:
        key = expert_key(expert)
        return describe(expert, consortium, key) if key in consortium_keys(consortium) else None
    rule.expert_key = expert_key
    rule.consortium_keys = consortium_keys
    return rule


def _organisation_keys(consortium: Consortium) -> set[str]:
    return {_organisation(p.organisation_id) for p in consortium.participants}


def _describe_organisation(expert: Expert, consortium: Consortium, key: str) -> str:
    p = next(p for p in consortium.participants if _organisation(p.organisation_id) == key)
    return f"the expert's organisation {expert.organisation_id} is the {p.role} " \
           f"{p.legal_name}".rstrip()


def _coordinator_country(consortium: Consortium) -> set[str]:
    coordinator = consortium.coordinator
    return set() if coordinator is None else {_country(coordinator.country)}


CONFLICT_RULES: dict[str, ConflictRule] = {
    "same_organisation": _keyed(
        lambda e: _organisation(e.organisation_id), _organisation_keys, _describe_organisation),
    "same_country_as_coordinator": _keyed(
        lambda e: _country(e.country), _coordinator_country,
        lambda e, c, key: f"the expert and the coordinator are both established in {key}"),
    "same_country_as_participant": _keyed(
        lambda e: _country(e.country), lambda c: {_country(p.country) for p in c.participants},
        lambda e, c, key: f"a participant is established in the expert's country {key}"),
}


def unknown_conflict_rules(rule_ids: Iterable[str]) -> list[str]:
    """Rule ids a call names that this service does not know (check when a call loads)."""
    return [r for r in rule_ids if r not in CONFLICT_RULES]


def _rules_in_force(rule_ids: Sequence[str]) -> tuple[str, ...]:
    unknown = unknown_conflict_rules(rule_ids)
    if unknown:
        # failing loudly: an ignored rule would be a conflict nobody checks
        raise ValueError(f"unknown conflict rule(s): {', '.join(unknown)}")
    return tuple(dict.fromkeys((*MANDATORY_RULES, *rule_ids)))


# ------------------------------------------------------------------ declarations
@dataclass(frozen=True)
class DeclaredConflict:
    expert_id: str
    proposal_id: str
    source: str  # expert | operations
    reason: str
    declared_by: str
    declared_at: datetime


class DeclarationError(ValueError):
    """A declaration that cannot be recorded (no reason, or not the expert's proposal)."""


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise DeclarationError("reason: is required")
    return reason.strip()


def declare_by_expert(expert_id: str, proposal_id: str, reason: str, *,
                      assigned_expert_ids: Collection[str], now: datetime) -> DeclaredConflict:
    """The expert declares a conflict on a proposal assigned to them. The service then
    releases the assignment (``evaluator_released``, reason ``conflict_declared``)."""
    if expert_id not in assigned_expert_ids:
        raise DeclarationError(f"expert {expert_id} is not assigned to proposal {proposal_id}")
    return DeclaredConflict(expert_id, proposal_id, "expert", _reason(reason), expert_id,
                            require_aware(now))


def declare_by_operations(expert_id: str, proposal_id: str, reason: str, *,
                          operator: str, now: datetime) -> DeclaredConflict:
    """Operations record a conflict they know of, assigned or not."""
    if not operator or not operator.strip():
        raise DeclarationError("operator: is required")
    return DeclaredConflict(expert_id, proposal_id, "operations", _reason(reason),
                            operator.strip(), require_aware(now))


# ------------------------------------------------------------------ the question
@dataclass(frozen=True)
class ConflictReason:
    source: str  # rule | expert | operations
    code: str  # the rule id, or "declared"
    detail: str

    def __str__(self) -> str:
        return f"{self.code} ({self.source}): {self.detail}"


@dataclass(frozen=True)
class ConflictCheck:
    """The answer for one expert and one proposal: conflicted when any reason exists."""

    expert_id: str
    proposal_id: str
    reasons: tuple[ConflictReason, ...]

    @property
    def conflicted(self) -> bool:
        return bool(self.reasons)


def check_conflict(expert: Expert, consortium: Consortium, rules: EvaluationRules,
                   declarations: Iterable[DeclaredConflict] = ()) -> ConflictCheck:
    """Is ``expert`` conflicted on ``consortium``'s proposal, and why.

    The rules applied are ``rules.conflict_rules`` plus the mandatory ones; an unknown
    rule id raises ValueError. ``declarations`` may hold any declarations (those of other
    pairs are ignored), so the service can pass all it has.
    """
    reasons = [ConflictReason("rule", rule_id, detail)
               for rule_id in _rules_in_force(rules.conflict_rules)
               if (detail := CONFLICT_RULES[rule_id](expert, consortium)) is not None]
    reasons += [ConflictReason(d.source, "declared", d.reason) for d in declarations
                if d.expert_id == expert.id and d.proposal_id == consortium.proposal_id]
    return ConflictCheck(expert.id, consortium.proposal_id, tuple(reasons))


def conflict_pairs(experts: Iterable[Expert], consortia: Iterable[Consortium],
                   rules: EvaluationRules,
                   declarations: Iterable[DeclaredConflict] = ()) -> PairSet:
    """Every conflicted ``(expert_id, proposal_id)`` pair: the forbidden pairs an
    assignment problem needs, from the same rules as :func:`check_conflict` (the same
    pairs it finds conflicted, computed by joining each rule's keys).

    A large call has ~10^7 conflicted pairs: the answer is a :class:`.pairs.PairSet`
    (pairs held as integers) and each join runs on arrays (:meth:`.PairSet.join`)."""
    experts, consortia = tuple(experts), tuple(consortia)
    expert_ids = [e.id for e in experts]
    proposal_ids = [c.proposal_id for c in consortia]
    found = [PairSet.join(expert_ids, [rule.expert_key(e) for e in experts], proposal_ids,
                          [rule.consortium_keys(c) for c in consortia])
             for rule in map(CONFLICT_RULES.__getitem__, _rules_in_force(rules.conflict_rules))]
    known_e, known_p = set(expert_ids), set(proposal_ids)
    found.append(PairSet.of((d.expert_id, d.proposal_id) for d in declarations
                            if d.expert_id in known_e and d.proposal_id in known_p))
    return found[0].union(*found[1:])


# ------------------------------------------------------------------ visibility guard
class VisibilityError(LookupError):
    """A record whose proposal cannot be told: a programming error, never shown."""


T = TypeVar("T")


@dataclass(frozen=True)
class Visibility:
    """What one expert may see: an allow-list of proposals checked and found clear.

    An allow-list fails closed: a proposal nobody checked (new, or missing from the
    consortia given) is hidden just like a conflicted one.
    """

    expert_id: str
    cleared: frozenset[str]

    def allows(self, proposal_id: str) -> bool:
        return proposal_id in self.cleared

    def filter(self, records: Iterable[T], key: Callable[[T], Any] | None = None) -> list[T]:
        """The records this expert may see, in their order (see :func:`visible_records`)."""
        return visible_records(records, self, key)


def visibility_for(expert: Expert, consortia: Iterable[Consortium], rules: EvaluationRules,
                   declarations: Iterable[DeclaredConflict] = ()) -> Visibility:
    """Check ``expert`` against every consortium and keep the proposals that are clear."""
    declarations = tuple(declarations)
    return Visibility(expert.id, frozenset(
        c.proposal_id for c in consortia
        if not check_conflict(expert, c, rules, declarations).conflicted))


def _proposal_ids(record: Any) -> tuple[str, ...]:
    """The proposal(s) a record concerns: ``proposal_id`` or ``proposal_ids``, as a key of
    a mapping or an attribute."""
    for name in ("proposal_id", "proposal_ids"):
        if isinstance(record, Mapping):
            value = record.get(name)
        else:
            value = getattr(record, name, None)
        if value is not None:
            return _as_ids(value)
    raise VisibilityError(f"cannot tell which proposal a {type(record).__name__} concerns")


def _as_ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        ids: tuple = (value,)
    elif isinstance(value, Iterable):
        ids = tuple(value)
    else:
        raise VisibilityError(f"not a proposal id (or ids): {value!r}")
    if not ids or not all(isinstance(i, str) and i for i in ids):
        raise VisibilityError(f"not a proposal id (or ids): {value!r}")
    return ids


def visible_records(records: Iterable[T], visibility: Visibility,
                    key: Callable[[T], Any] | None = None) -> list[T]:
    """Filter per-proposal records (assignments, reports, scores, aggregates, ranking
    entries, ...) down to those the expert may see.

    ``key`` returns the proposal id, or several ids for a record about several proposals
    (visible only if every one is cleared); by default ``proposal_id``/``proposal_ids`` is
    read. A record whose proposal cannot be told raises :class:`VisibilityError` rather
    than being shown or silently dropped. Records are returned unchanged: anything inside
    them that names *another* proposal is the caller's to filter with this same helper.
    """
    kept = []
    for record in records:
        ids = _as_ids(key(record)) if key is not None else _proposal_ids(record)
        if all(visibility.allows(i) for i in ids):
            kept.append(record)
    return kept
