"""Each eligibility rule of the bundled call, passing and failing, with the values that
failed it."""
import dataclasses
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.submission.domain.eligibility import CHECKS, check_eligibility
from services.submission.domain.errors import UnknownRule
from shared.calls.model import Rule
from shared.calls.rules import RULE_CATALOGUE

from .factories import (BRUSSELS, CALL, TOPIC_1, TOPIC_2, TOPIC_3, content, frozen, only_rule,
                        participant, with_deadline)


def failures(rule_id, body=None, *, call=CALL, topic_id=TOPIC_1, others=()):
    """The failures of one rule of ``call`` for a proposal with ``body``."""
    return check_eligibility(only_rule(call, rule_id),
                             frozen(body or content(), topic_id=topic_id), others)


def test_every_catalogued_rule_id_has_a_check_and_no_check_is_uncatalogued():
    assert set(CHECKS) == set(RULE_CATALOGUE)


def test_the_default_proposal_passes_every_rule():
    assert check_eligibility(CALL, frozen()) == []


# ----------------------------------------------------------------------- participating_country
def test_a_danish_partner_fails_and_is_named():
    danish = participant("Aarhus Kommune", "DK", org="DK-29189854")
    [failure] = failures("participating_country",
                         content(co_applicants=(participant("Lyon", "FR"), danish)))
    assert failure.rule == "participating_country" and failure.kind == "eligibility"
    assert failure.values["entities"] == [{"role": "co_applicant",
                                           "legal_name": "Aarhus Kommune",
                                           "organisation_id": "DK-29189854", "country": "DK"}]
    assert "Aarhus Kommune" in failure.message and "DK" in failure.message


def test_a_uk_partner_passes_at_the_january_2019_deadline():
    body = content(co_applicants=(participant("Manchester", "GB"), participant("Lyon", "FR")))
    assert failures("participating_country", body) == []


@pytest.mark.parametrize("deadline,passes", [
    (datetime(2020, 1, 31, 23, 59, 59, tzinfo=BRUSSELS), True),
    (datetime(2020, 2, 1, 0, 0, 0, tzinfo=BRUSSELS), False),  # 31 January 2020 24:00
])
def test_uk_membership_is_bounded_in_time_and_read_at_the_deadline(deadline, passes):
    body = content(co_applicants=(participant("Manchester", "GB"), participant("Lyon", "FR")))
    found = failures("participating_country", body, call=with_deadline(CALL, deadline))
    assert (found == []) is passes


def test_an_international_organisation_may_be_established_anywhere_others_may_not():
    io = participant("IOM", "CH", entity_type="international_organisation", lra=False)
    assert failures("participating_country", content(co_applicants=(io,))) == []
    swiss_city = participant("Geneva", "CH")
    [failure] = failures("participating_country", content(co_applicants=(io, swiss_city)))
    assert [e["legal_name"] for e in failure.values["entities"]] == ["Geneva"]


# ----------------------------------------------------------------------- entity_type
def test_an_entity_of_a_type_not_allowed_fails():
    company = participant("Acme", "FR", entity_type="for_profit_company", lra=False)
    [failure] = failures("entity_type", content(co_applicants=(company, participant("Lyon", "FR"))))
    assert failure.values["entities"][0]["entity_type"] == "for_profit_company"
    assert failure.values["entities"][0]["legal_name"] == "Acme"
    assert failures("entity_type") == []


# ----------------------------------------------------------------------- min_entities
def test_exactly_three_entities_pass_two_fail():
    assert failures("min_entities") == []  # coordinator + 2
    [failure] = failures("min_entities", content(co_applicants=(participant("Lyon", "FR"),)))
    assert failure.values == {"entities": 2, "min": 3}


def test_min_entities_applies_only_to_topics_1_and_2():
    pair = content(co_applicants=(participant("Lyon", "FR"),))
    assert failures("min_entities", pair, topic_id=TOPIC_2) != []
    assert failures("min_entities", pair, topic_id=TOPIC_3) == []


# ----------------------------------------------------------------------- min_member_states
def test_all_partners_in_one_member_state_fail():
    belgian = content(co_applicants=(participant("Liege", "BE"), participant("Antwerp", "BE")))
    [failure] = failures("min_member_states", belgian)
    assert failure.values["countries"] == ["BE"] and failure.values["count"] == 1


def test_two_member_states_pass_and_a_non_participating_country_does_not_count():
    two = content(co_applicants=(participant("Liege", "BE"), participant("Lyon", "FR")))
    assert failures("min_member_states", two) == []
    with_denmark = content(co_applicants=(participant("Liege", "BE"), participant("Aarhus", "DK")))
    # the full call: which countries count comes from its participating_country rule
    [failure] = [f for f in check_eligibility(CALL, frozen(with_denmark))
                 if f.rule == "min_member_states"]
    assert failure.values["not_counted"] == ["DK"]
    # without a participating_country rule every distinct country counts
    assert failures("min_member_states", with_denmark) == []


# ----------------------------------------------------------------------- cofinancing_rate
def costs_and_grant(grant, costs="1000000.00"):
    return content(total_eligible_costs=Decimal(costs), requested_grant=Decimal(grant))


def test_exactly_ninety_percent_passes():
    assert failures("cofinancing_rate", costs_and_grant("900000.00")) == []
    assert failures("cofinancing_rate", costs_and_grant("899999.91", "999999.90")) == []


def test_ninety_point_zero_one_percent_fails_with_the_amounts():
    [failure] = failures("cofinancing_rate", costs_and_grant("900100.00"))
    assert failure.values["requested_grant"] == "900100.00"
    assert Decimal(failure.values["max_grant"]) == Decimal("900000")
    assert "90 %" in failure.message


@given(costs=st.integers(min_value=0, max_value=10**11),
       grant=st.integers(min_value=0, max_value=10**11))
def test_cofinancing_passes_iff_grant_is_at_most_ninety_percent(costs, grant):
    # amounts in cents; the oracle is integer arithmetic: 10 * grant <= 9 * costs
    body = content(total_eligible_costs=Decimal(costs).scaleb(-2),
                   requested_grant=Decimal(grant).scaleb(-2))
    assert (failures("cofinancing_rate", body) == []) is (10 * grant <= 9 * costs)


@given(costs=st.integers(min_value=1, max_value=10**11))
def test_the_largest_grant_that_passes_is_ninety_percent_rounded_down_to_the_cent(costs):
    best = 9 * costs // 10  # cents
    ok = content(total_eligible_costs=Decimal(costs).scaleb(-2),
                 requested_grant=Decimal(best).scaleb(-2))
    over = dataclasses.replace(ok, requested_grant=Decimal(best + 1).scaleb(-2))
    assert failures("cofinancing_rate", ok) == []
    assert failures("cofinancing_rate", over) != []


# ----------------------------------------------------------------------- grant_range
@pytest.mark.parametrize("grant,passes", [
    ("449999.99", False), ("450000.00", True), ("1000000.00", True), ("1000000.01", False)])
def test_grant_range_edges_are_inclusive(grant, passes):
    body = costs_and_grant(grant, costs="2000000.00")
    found = failures("grant_range", body)
    assert (found == []) is passes
    if not passes:
        assert found[0].values == {"requested_grant": grant, "min": "450000",
                                   "max": "1000000"}


# ----------------------------------------------------------------------- max_duration
@pytest.mark.parametrize("months,passes", [(36, True), (37, False)])
def test_duration_of_36_months_passes_37_fails(months, passes):
    found = failures("max_duration", content(duration_months=months))
    assert (found == []) is passes
    if not passes:
        assert found[0].values == {"duration_months": 37, "max_months": 36}


# ----------------------------------------------------------------------- single_topic
def test_the_same_project_in_two_topics_fails():
    mine = frozen(proposal_id="P-1", topic_id=TOPIC_1)
    copy = frozen(content(acronym=" netint "), proposal_id="P-2", topic_id=TOPIC_2)
    [failure] = check_eligibility(only_rule(CALL, "single_topic"), mine, (copy,))
    assert failure.values["also_submitted"] == [{"proposal_id": "P-2", "topic_id": TOPIC_2}]
    # and the copy fails too: neither can be preferred
    assert check_eligibility(only_rule(CALL, "single_topic"), copy, (mine,)) != []


def test_other_projects_and_same_topic_resubmissions_pass_single_topic():
    mine = frozen(proposal_id="P-1", topic_id=TOPIC_1)
    other_coordinator = frozen(content(coordinator=participant("Porto", "PT")),
                               proposal_id="P-2", topic_id=TOPIC_2)
    other_acronym = frozen(content(acronym="CITYNET"), proposal_id="P-3", topic_id=TOPIC_2)
    same_topic = frozen(proposal_id="P-4", topic_id=TOPIC_1)
    assert check_eligibility(only_rule(CALL, "single_topic"), mine,
                             (mine, other_coordinator, other_acronym, same_topic)) == []


# ----------------------------------------------------------------------- network_composition
def test_composition_guidance_is_a_warning_with_its_reasons():
    ngo = dict(entity_type="non_profit_private", lra=False)
    body = content(coordinator=participant("Ghent", "BE", experienced=True),
                   co_applicants=(participant("NGO1", "FR", **ngo), participant("NGO2", "IT", **ngo)))
    found = failures("network_composition", body)
    assert [f.severity for f in found] == ["warning", "warning"]  # share, and no mix
    assert found[0].values["local_regional_authorities"] == 1


def test_half_local_authorities_with_a_mix_raise_no_warning():
    body = content(co_applicants=(participant("Lyon", "FR"),
                                  participant("NGO", "IT", entity_type="non_profit_private",
                                              lra=False)),
                   coordinator=participant("Ghent", "BE", experienced=True))
    # 2 of 3 are authorities (>= 50 %), one experienced, one not
    assert failures("network_composition", body) == []


# ----------------------------------------------------------------------- the engine
def test_an_unknown_rule_id_in_the_call_is_a_clear_error():
    call = dataclasses.replace(CALL, eligibility=CALL.eligibility + (Rule("lucky_number"),))
    with pytest.raises(UnknownRule, match="lucky_number"):
        check_eligibility(call, frozen())


def test_every_failure_is_reported_not_just_the_first():
    body = content(co_applicants=(participant("Aarhus", "DK"),), duration_months=48,
                   requested_grant=Decimal("950000.00"))
    rules = {f.rule for f in check_eligibility(CALL, frozen(body))}
    assert rules >= {"participating_country", "min_entities", "min_member_states",
                     "cofinancing_rate", "max_duration"}
