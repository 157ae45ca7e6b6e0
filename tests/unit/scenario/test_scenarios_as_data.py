"""Scenario files as data: validation that names every problem, call overrides, the
synthetic demo's determinism, and the expectation checks the scenario tests rely on."""
import copy
from pathlib import Path

import pytest
import yaml

from grantflow.scenario.loader import InvalidScenario, deep_merge, load_scenario_text
from grantflow.scenario.summary import check_expectations
from grantflow.scenario.synthetic import synthetic_document, synthetic_scenario

HAPPY = Path(__file__).resolve().parents[3] / "scenarios" / "happy-path.yaml"


def happy() -> dict:
    return yaml.safe_load(HAPPY.read_text())


def test_every_problem_is_reported_with_its_path():
    document = happy()
    document["proposals"][0]["actions"][0]["do"] = "teleport"
    document["proposals"][1]["actions"][0]["at"] = "the day after tomorrow"
    document["proposals"][2]["grant"] = "maybe"
    del document["proposals"][2]["acronym"]
    with pytest.raises(InvalidScenario) as invalid:
        load_scenario_text(yaml.safe_dump(document))
    problems = "\n".join(invalid.value.problems)
    assert "proposals[0].actions[0].do" in problems
    assert "proposals[2].grant" in problems
    assert "proposals[2].acronym" in problems
    with pytest.raises(InvalidScenario) as invalid:  # then the instant, once the rest is right
        document = happy()
        document["proposals"][1]["actions"][0]["at"] = "the day after tomorrow"
        load_scenario_text(yaml.safe_dump(document))
    (problem,) = invalid.value.problems
    assert problem.startswith(
        "proposals[1].actions[0].at: not an instant: 'the day after tomorrow' (line ")


@pytest.mark.parametrize("local,rule", [
    ("2019-03-31 02:30", "does not exist in Europe/Brussels (skipped when clocks go forward)"),
    ("2019-10-27 02:30", "is ambiguous in Europe/Brussels (it occurs twice when clocks go back)"),
])
def test_a_local_time_in_the_dst_gap_or_repeated_is_refused_with_line_and_rule(local, rule):
    text = HAPPY.read_text()
    first_at = next(line for line in text.splitlines() if "at:" in line and "do:" in line)
    at_line = text.splitlines().index(first_at) + 1
    original = first_at.split('at: "', 1)[1].split('"', 1)[0]
    with pytest.raises(InvalidScenario) as invalid:
        load_scenario_text(text.replace(f'at: "{original}"', f'at: "{local}"', 1))
    (problem,) = invalid.value.problems
    assert problem.startswith("proposals[0].actions[0].at: local time ")
    assert rule in problem and "write it with an explicit UTC offset" in problem
    assert problem.endswith(f"(line {at_line})")


def test_the_same_local_time_with_an_explicit_offset_is_accepted():
    text = HAPPY.read_text()
    first_at = next(line for line in text.splitlines() if "at:" in line and "do:" in line)
    original = first_at.split('at: "', 1)[1].split('"', 1)[0]
    scenario = load_scenario_text(text.replace(f'at: "{original}"',
                                               'at: "2018-10-28T02:30:00+01:00"', 1))
    assert scenario.proposal(scenario.proposals[0].ref).actions[0].at.isoformat() == \
        "2018-10-28T02:30:00+01:00"


def test_expectations_must_name_known_proposals():
    document = happy()
    document["expect"]["nobody"] = {"final_state": "rejected"}
    with pytest.raises(InvalidScenario, match="unknown proposals: nobody"):
        load_scenario_text(yaml.safe_dump(document))


def test_proposal_refs_used_twice_are_named_once_each():
    document = happy()
    first, second = document["proposals"][0], document["proposals"][1]
    document["proposals"] += [copy.deepcopy(first), copy.deepcopy(second),
                              copy.deepcopy(first)]
    with pytest.raises(InvalidScenario) as raised:
        load_scenario_text(yaml.safe_dump(document))
    named = sorted({first["ref"], second["ref"]})
    assert f"duplicate proposal refs: {', '.join(named)}" in str(raised.value)


def test_local_instants_are_read_in_the_calls_time_zone():
    scenario = load_scenario_text(HAPPY.read_text())
    submitted = scenario.proposal("good-a").actions[0].at
    assert submitted.utcoffset().total_seconds() == 3600  # Brussels in January


def test_overrides_address_list_items_by_id():
    call = {"topics": [{"id": "T1", "budget": 1}, {"id": "T2", "budget": 2}], "budget": 3}
    merged = deep_merge(call, {"topics": {"T2": {"budget": 5}}, "budget": 6})
    assert merged == {"topics": [{"id": "T1", "budget": 1}, {"id": "T2", "budget": 5}],
                      "budget": 6}
    with pytest.raises(InvalidScenario, match="no list item with id 'T9'"):
        deep_merge(call, {"topics": {"T9": {"budget": 5}}})


def test_the_demo_is_the_same_for_a_seed_and_different_for_another():
    assert synthetic_document(60, 20, 7) == synthetic_document(60, 20, 7)
    assert synthetic_document(60, 20, 7) != synthetic_document(60, 20, 8)


def test_the_demo_has_late_ineligible_and_incomplete_applicants():
    scenario = synthetic_scenario(400, 80, 2019)
    countries = [{p["country"] for p in [s.content["coordinator"], *s.content["co_applicants"]]}
                 for s in scenario.proposals]
    assert any("DK" in found for found in countries)  # a Danish partner
    assert any(len(found) == 1 for found in countries)  # a one-country consortium
    assert any(float(s.content["requested_grant"]) > 0.9 * float(s.content["total_eligible_costs"])
               for s in scenario.proposals)  # over 90 %
    assert any("part_b" not in s.parts for s in scenario.proposals)  # a missing part
    assert any(a.do == "withdraw" for s in scenario.proposals for a in s.actions)
    deadline = scenario.proposals[0].actions[0].at.replace(month=1, day=31, hour=17, minute=0)
    assert any(s.actions[0].at >= deadline for s in scenario.proposals)  # late


def test_expectations_report_what_differs():
    scenario = load_scenario_text(HAPPY.read_text())
    report = {"proposals": [
        {"ref": "good-a", "final_state": "grant_signed", "rank": 1, "list": "main",
         "total_score": "92.00"},
        {"ref": "good-b", "final_state": "declined", "rank": 2, "list": "main",
         "total_score": "83.00"},
        {"ref": "good-c", "final_state": "reserve", "rank": 3, "list": "reserve",
         "total_score": "77.5"}],
        "notifications": {"europe@lyon.example": [
            {"template": "submission_receipt", "status": "sent"}] * 2 + [
            {"template": "result_letter", "status": "sent"}] * 2 + [
            {"template": "grant_signed", "status": "sent"}],
            "ana@experts.example": [{"template": "evaluator_assigned", "status": "sent"}]}}
    assert check_expectations(scenario, report) == [
        "good-b: final_state 'declined' (expected 'grant_signed')",
        "good-c: total_score 77.5 (expected 77.00)",
        "ana@experts.example: 1 x evaluator_assigned (expected 2)"]


def test_every_topic_of_the_demo_can_fund_someone():
    """Each topic's requests come from its grant range in the call file, capped at its
    budget: with strict rank order the best passed proposal of every topic fits its budget
    (topic 5, EUR 500,000, funded nobody when every request there was 531k to 994k)."""
    from decimal import Decimal

    from grantflow.scenario.synthetic import grant_ranges
    from shared.calls.loader import load_default_call

    call = load_default_call()
    ranges = grant_ranges(call)
    assert ranges["AMIF-2018-AG-INTE-5"] == (Decimal(450_000), Decimal(500_000))
    assert ranges["AMIF-2018-AG-INTE-1"] == (Decimal(450_000), Decimal(1_000_000))
    document = synthetic_document(200, 80, 2019)
    threshold = call.evaluation.overall_threshold
    for topic in call.topics:
        low, high = ranges[topic.id]
        mine = [p for p in document["proposals"] if p["topic"] == topic.id]
        assert all(low <= Decimal(p["requested_grant"]) <= high for p in mine), topic.id
        fundable = [p for p in mine if p["evaluation"]["quality"] >= threshold
                    and len(p["actions"]) == 1 and p["actions"][0]["do"] == "submit"
                    and len(p["parts"]) == 3
                    and Decimal(p["requested_grant"]) <= Decimal("0.9") * Decimal(
                        p["total_eligible_costs"])
                    and "DK" not in {m["country"] for m in [p["coordinator"], *p["co_applicants"]]}
                    and len({m["country"] for m in [p["coordinator"], *p["co_applicants"]]}) > 1]
        assert fundable, f"{topic.id} has no proposal that can pass and fit its budget"
