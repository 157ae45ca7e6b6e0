"""Conflicts of interest and the visibility guard."""
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.evaluation.domain.conflicts import (
    CONFLICT_RULES, Consortium, DeclarationError, Participant, Visibility, VisibilityError, check_conflict,
    conflict_pairs,
    declare_by_expert, declare_by_operations, unknown_conflict_rules, visibility_for,
    visible_records)
from services.evaluation.domain.experts import Expert
from shared.calls.model import Criterion, EvaluationRules

NOW = datetime(2019, 2, 15, 9, 0, tzinfo=timezone.utc)
RULES = EvaluationRules(2, (Criterion("relevance", "Relevance", Decimal(30), Decimal(21)),),
                        Decimal(70), ("relevance",))


def rules(*rule_ids: str) -> EvaluationRules:
    return replace(RULES, conflict_rules=rule_ids)


def expert(org="ORG-X", country="BE", id="E-1") -> Expert:
    return Expert(id=id, name="Ann", email=f"{id}@example.org", country=country,
                  organisation_id=org, expertise_areas=("housing",), max_load=3)


def consortium(pid="P-1", coordinator=("ORG-C", "IT"), *others) -> Consortium:
    parts = [Participant(coordinator[0], coordinator[1], "coordinator", "City of Bari")]
    parts += [Participant(org, country, "co_applicant") for org, country in others]
    return Consortium(pid, tuple(parts))


# ------------------------------------------------------------------ automatic rules
@pytest.mark.parametrize("org", ["ORG-C", "ORG-2", " org-2 "])
def test_expert_of_a_consortium_organisation_is_conflicted(org):
    check = check_conflict(expert(org=org), consortium("P-1", ("ORG-C", "IT"), ("ORG-2", "FR")),
                           rules("same_organisation"))
    assert check.conflicted
    assert [r.code for r in check.reasons] == ["same_organisation"]
    assert (check.expert_id, check.proposal_id) == ("E-1", "P-1")


def test_expert_of_another_organisation_is_not_conflicted():
    check = check_conflict(expert(org="ORG-9"), consortium("P-1", ("ORG-C", "IT"), ("ORG-2", "FR")),
                           rules("same_organisation"))
    assert not check.conflicted and check.reasons == ()


def test_same_organisation_applies_even_when_the_call_forgot_it():
    assert check_conflict(expert(org="ORG-C"), consortium(), rules()).conflicted


def test_same_country_as_coordinator_only_when_the_call_names_it():
    greek = expert(country="GR")
    bid = consortium("P-1", ("ORG-C", "EL"))
    assert not check_conflict(greek, bid, rules("same_organisation")).conflicted
    check = check_conflict(greek, bid, rules("same_organisation", "same_country_as_coordinator"))
    assert [r.code for r in check.reasons] == ["same_country_as_coordinator"]
    assert "EL" in check.reasons[0].detail


def test_same_country_as_coordinator_ignores_co_applicants():
    bid = consortium("P-1", ("ORG-C", "IT"), ("ORG-2", "BE"))
    assert not check_conflict(expert(country="BE"), bid,
                              rules("same_country_as_coordinator")).conflicted
    assert check_conflict(expert(country="BE"), bid,
                          rules("same_country_as_participant")).conflicted


def test_unknown_rule_fails_loudly():
    assert unknown_conflict_rules(["same_organisation", "same_shoe_size"]) == ["same_shoe_size"]
    with pytest.raises(ValueError, match="same_shoe_size"):
        check_conflict(expert(), consortium(), rules("same_shoe_size"))


def test_consortium_from_the_screened_snapshot():
    snapshot = {"participants": [
        {"role": "coordinator", "legal_name": "City of Bari", "organisation_id": "ORG-C",
         "country": "IT", "entity_type": "public_body", "local_or_regional_authority": True,
         "experienced_in_integration": True, "contact_email": "c@bari.it"},
        {"role": "co_applicant", "legal_name": "Gent", "organisation_id": "ORG-2",
         "country": "BE", "entity_type": "public_body", "local_or_regional_authority": True,
         "experienced_in_integration": False, "contact_email": "x@gent.be"}]}
    bid = Consortium.from_snapshot("P-1", snapshot)
    assert bid.coordinator == Participant("ORG-C", "IT", "coordinator", "City of Bari")
    assert check_conflict(expert(org="ORG-2"), bid, RULES).conflicted


# ------------------------------------------------------------------ declarations
def test_expert_declares_on_an_assigned_proposal_with_a_reason():
    declared = declare_by_expert("E-1", "P-1", "  I advised the coordinator in 2018 ",
                                 assigned_expert_ids={"E-1", "E-2"}, now=NOW)
    check = check_conflict(expert(), consortium(), RULES, [declared])
    assert [(r.source, r.code, r.detail) for r in check.reasons] == [
        ("expert", "declared", "I advised the coordinator in 2018")]


def test_expert_cannot_declare_on_a_proposal_not_assigned_or_without_reason():
    with pytest.raises(DeclarationError, match="not assigned"):
        declare_by_expert("E-1", "P-1", "reason", assigned_expert_ids={"E-2"}, now=NOW)
    with pytest.raises(DeclarationError, match="reason: is required"):
        declare_by_expert("E-1", "P-1", "   ", assigned_expert_ids={"E-1"}, now=NOW)


def test_operations_declare_on_any_pair_and_only_that_pair_counts():
    declared = declare_by_operations("E-1", "P-1", "sibling works for a co-applicant",
                                     operator="ops-7", now=NOW)
    assert declared.declared_by == "ops-7" and declared.source == "operations"
    assert check_conflict(expert(), consortium("P-1"), RULES, [declared]).conflicted
    assert not check_conflict(expert(), consortium("P-2"), RULES, [declared]).conflicted
    assert not check_conflict(expert(id="E-2"), consortium("P-1"), RULES, [declared]).conflicted


def test_reasons_from_every_source_are_listed():
    declared = [declare_by_operations("E-1", "P-1", "known link", operator="ops", now=NOW),
                declare_by_expert("E-1", "P-1", "my own view", assigned_expert_ids={"E-1"}, now=NOW)]
    check = check_conflict(expert(org="ORG-C"), consortium(), RULES, declared)
    assert [r.source for r in check.reasons] == ["rule", "operations", "expert"]


def test_declarations_need_an_aware_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        declare_by_operations("E-1", "P-1", "r", operator="ops", now=datetime(2019, 2, 1))


def test_conflict_pairs_for_an_assignment_problem():
    declared = declare_by_operations("E-3", "P-2", "known link", operator="ops", now=NOW)
    pool = [expert(org="ORG-A", id="E-1"), expert(org="ORG-B", id="E-2"),
            expert(org="ORG-Z", id="E-3")]
    bids = [consortium("P-1", ("ORG-A", "IT")), consortium("P-2", ("ORG-C", "FR"), ("ORG-B", "BE"))]
    assert conflict_pairs(pool, bids, RULES, [declared]) == {("E-1", "P-1"), ("E-2", "P-2"),
                                                             ("E-3", "P-2")}


# ------------------------------------------------------------------ visibility guard
@dataclass
class Score:
    proposal_id: str
    value: Decimal


def guard_for_org(org: str) -> Visibility:
    bids = [consortium("P-1", ("ORG-A", "IT")), consortium("P-2", ("ORG-B", "FR")),
            consortium("P-3", ("ORG-C", "DE"), ("ORG-A", "BE"))]
    return visibility_for(expert(org=org), bids, RULES)


def test_conflicted_expert_sees_nothing_of_that_proposal_in_any_record_kind():
    guard = guard_for_org("ORG-A")  # conflicted on P-1 (coordinator) and P-3 (partner)
    assignments = [{"proposal_id": p, "expert_id": "E-9"} for p in ("P-1", "P-2", "P-3")]
    scores = [Score(p, Decimal(80)) for p in ("P-3", "P-2", "P-1", "P-2")]
    aggregates = [{"proposal_ids": ["P-2"]}, {"proposal_ids": ["P-2", "P-3"]}]
    assert guard.filter(assignments) == [assignments[1]]
    assert visible_records(scores, guard) == [scores[1], scores[3]]
    assert guard.filter(aggregates) == [aggregates[0]]


def test_proposals_nobody_checked_are_hidden():
    guard = guard_for_org("ORG-Z")
    assert guard.filter([{"proposal_id": "P-1"}, {"proposal_id": "P-NEW"}]) == [
        {"proposal_id": "P-1"}]


def test_custom_key_and_unreadable_records():
    guard = guard_for_org("ORG-A")
    rows = [("P-2", "row a"), ("P-1", "row b")]
    assert guard.filter(rows, key=lambda r: r[0]) == [("P-2", "row a")]
    with pytest.raises(VisibilityError):
        guard.filter([{"expert_id": "E-1"}])
    with pytest.raises(VisibilityError):
        guard.filter([{"proposal_ids": []}])
    with pytest.raises(VisibilityError):
        guard.filter(rows, key=lambda r: None)


def test_declared_conflict_hides_the_proposal_too():
    declared = declare_by_expert("E-1", "P-2", "former employer", assigned_expert_ids={"E-1"},
                                 now=NOW)
    guard = visibility_for(expert(org="ORG-Z"), [consortium("P-1"), consortium("P-2")], RULES,
                           [declared])
    assert guard.filter([{"proposal_id": "P-1"}, {"proposal_id": "P-2"}]) == [{"proposal_id": "P-1"}]


ORGS = ["ORG-1", "ORG-2", "ORG-3", "ORG-4"]


@given(st.lists(st.lists(st.sampled_from(ORGS), min_size=1, max_size=3), min_size=1, max_size=6),
       st.sampled_from(ORGS),
       st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=30))
def test_guard_never_leaks_and_never_hides_a_clear_proposal(orgs_per_bid, own_org, refs):
    bids = [Consortium(f"P-{i}", tuple(Participant(o, "IT") for o in orgs))
            for i, orgs in enumerate(orgs_per_bid)]
    guard = visibility_for(expert(org=own_org), bids, RULES)
    records = [{"proposal_ids": [f"P-{a}", f"P-{b}"]} for a, b in refs]
    records += [{"proposal_id": f"P-{a}"} for a, _ in refs]
    clear = {b.proposal_id for b in bids if own_org not in
             {p.organisation_id for p in b.participants}}
    shown = guard.filter(records)
    for record in records:
        ids = set(record.get("proposal_ids") or [record["proposal_id"]])
        assert (record in shown) == ids.issubset(clear)


_ORGS = st.sampled_from(["ORG-A", "org-a ", "ORG-B", "ORG-C"])
_COUNTRIES = st.sampled_from(["GR", "EL", "BE", "GB", "UK", "IT"])


@given(st.lists(st.tuples(_ORGS, _COUNTRIES), min_size=1, max_size=5),
       st.lists(st.lists(st.tuples(_ORGS, _COUNTRIES), min_size=1, max_size=4),
                min_size=1, max_size=4),
       st.sets(st.sampled_from(list(CONFLICT_RULES))),
       st.sets(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=3))
def test_conflict_pairs_joins_keys_to_the_same_pairs_as_asking_each_pair(
        pool, bids, rule_ids, declared_pairs):
    experts = [expert(org=o, country=c, id=f"E-{i}") for i, (o, c) in enumerate(pool)]
    consortia = [consortium(f"P-{j}", parts[0], *parts[1:]) for j, parts in enumerate(bids)]
    declared = [declare_by_operations(f"E-{e}", f"P-{p}", "known link", operator="ops", now=NOW)
                for e, p in declared_pairs]
    brute = {(e.id, c.proposal_id) for e in experts for c in consortia
             if check_conflict(e, c, rules(*rule_ids), declared).conflicted}
    assert conflict_pairs(experts, consortia, rules(*rule_ids), declared) == brute
