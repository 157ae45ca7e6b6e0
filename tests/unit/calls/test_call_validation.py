"""Call files: the bundled default validates clean; every problem is reported with its
path; local times are resolved in the call's zone, DST gaps and folds refused."""
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from shared.calls.loader import (DEFAULT_CALL_FILE, load_call_file, load_call_text,
                                 validate_call_file, validate_call_text)
from shared.calls.model import STAGE_KINDS, milestones
from shared.calls.schema import InvalidCall

from .helpers import bundled_call, bundled_text, edited

UTC = timezone.utc
BROKEN = Path(__file__).parent / "fixtures" / "broken_call.yaml"
TOPIC_1 = "AMIF-2018-AG-INTE-1"


def paths(problems):
    return {p.path for p in problems}


def problem_at(problems, path):
    found = [p for p in problems if p.path == path]
    assert found, f"no problem at {path}; got {[str(p) for p in problems]}"
    return found[0]


# ------------------------------------------------------------------ the bundled call
def test_bundled_call_validates_clean():
    assert validate_call_file(DEFAULT_CALL_FILE) == []


def test_bundled_call_has_the_five_topics_and_budgets_of_the_facts_file():
    call = load_call_file(DEFAULT_CALL_FILE)
    assert call.id == "AMIF-2018-AG-INTE"
    assert call.budget == Decimal("16200000")
    assert {t.id: t.budget for t in call.topics} == {
        "AMIF-2018-AG-INTE-1": Decimal("6000000"), "AMIF-2018-AG-INTE-2": Decimal("6000000"),
        "AMIF-2018-AG-INTE-3": Decimal("2500000"), "AMIF-2018-AG-INTE-4": Decimal("1200000"),
        "AMIF-2018-AG-INTE-5": Decimal("500000")}
    assert len(call.integration_areas) == 8
    assert set(call.topic(TOPIC_1).integration_areas) == {a.id for a in call.integration_areas}


def test_bundled_deadline_is_17_00_brussels_which_is_16_00_utc():
    call = load_call_file(DEFAULT_CALL_FILE)
    assert call.deadline == datetime(2019, 1, 31, 16, 0, tzinfo=UTC)
    assert call.local(call.deadline).strftime("%H:%M %Z") == "17:00 CET"


def test_bundled_timetable_has_every_stage_other_services_use_with_its_kind():
    call = load_call_file(DEFAULT_CALL_FILE)
    assert {s.name: s.kind for s in call.timetable} == dict(STAGE_KINDS)
    keys = [m.key for m in milestones(call)]
    assert keys.index("submission_deadline") < keys.index("evaluation_start")


def test_bundled_rules_use_the_agreed_ids():
    call = load_call_file(DEFAULT_CALL_FILE)
    assert [r.id for r in call.eligibility] == [
        "participating_country", "entity_type", "min_entities", "min_member_states",
        "cofinancing_rate", "grant_range", "max_duration", "single_topic",
        "network_composition"]
    assert next(r for r in call.eligibility if r.id == "network_composition").severity \
        == "warning"


def test_participating_countries_are_eu_2018_without_denmark_and_uk_until_brexit():
    call = load_call_file(DEFAULT_CALL_FILE)
    assert len(call.participating_countries) == 27
    assert "DK" not in call.participating_countries
    assert "GB" in call.participating_countries  # at the 2019 deadline
    uk = next(m for m in call.eligibility[0].params["members"] if m["country"] == "GB")
    # "2020-01-31 24:00" Brussels (CET, +01:00)
    assert uk["until"] == datetime(2020, 1, 31, 23, 0, tzinfo=UTC)


def test_cofinancing_rule_inherits_the_grant_cap_exactly():
    call = load_call_file(DEFAULT_CALL_FILE)
    rule = next(r for r in call.eligibility if r.id == "cofinancing_rate")
    assert rule.params["max_rate"] == call.grants.cofinancing_cap == Decimal("0.90")
    assert isinstance(call.grants.prefinancing_rate, Decimal)


# ------------------------------------------------------------------ every problem reported
EXPECTED_IN_BROKEN = {
    "topics": "above the call budget",
    "topics[1].integration_areas[1]": "not declared",
    "topics[2].id": "duplicate topic id",
    "topics[2].budget": "greater than 0",
    "timetable": "submission_deadline",
    "timetable[1].at": "out of order",
    "timetable[2].start": "does not exist",
    "timetable[3].start": "ambiguous",
    "eligibility[0].id": "unknown eligibility rule id",
    "eligibility[1].params.max": "number",
    "eligibility[2].topics[0]": "not a topic",
    "evaluation.criteria[0].threshold": "above max_points",
    "evaluation.overall_threshold": "above the maximum total",
    "evaluation.tie_break[1]": "not a criterion",
    "grant_rules.colour": "unknown field",
}


@pytest.mark.parametrize("path,words", sorted(EXPECTED_IN_BROKEN.items()))
def test_broken_fixture_reports_each_fault_at_its_path(path, words):
    problem = problem_at(validate_call_file(BROKEN), path)
    assert words in problem.message
    assert problem.line is not None


def test_broken_fixture_reports_nothing_else():
    assert paths(validate_call_file(BROKEN)) == set(EXPECTED_IN_BROKEN)


def test_load_raises_with_every_problem():
    with pytest.raises(InvalidCall) as raised:
        load_call_file(BROKEN)
    assert raised.value.problems == validate_call_file(BROKEN)
    assert "eligibility[0].id" in str(raised.value)


def test_yaml_syntax_error_is_reported_with_its_line():
    text = edited("currency: EUR\n", "currency: [EUR\n")
    line = text.splitlines().index("currency: [EUR") + 1
    [problem] = validate_call_text(text)
    assert "YAML syntax error" in problem.message
    assert problem.line is not None and line <= problem.line
    assert f"line {problem.line}" in problem.message


def test_duplicate_yaml_keys_are_reported_not_silently_overwritten():
    text = edited("currency: EUR\n", "currency: EUR\ncurrency: USD\n")
    problem = problem_at(validate_call_text(text), "currency")
    assert "duplicate key" in problem.message


def test_missing_submission_deadline_is_reported():
    text = edited("name: submission_deadline", "name: closing")
    assert "submission_deadline" in problem_at(validate_call_text(text), "timetable").message


def test_stage_with_the_wrong_kind_is_reported():
    text = edited('start: "2019-02-01 00:00"', 'at: "2019-02-01 00:00"')
    text = edited('    end: "2019-07-01 00:00"\n', "", text)
    assert "period" in problem_at(validate_call_text(text), "timetable[2].at").message


def test_invalid_rule_params_are_reported_at_the_param():
    text = edited("params: {months: 36}", "params: {months: 0, weeks: 3}")
    problems = validate_call_text(text)
    index = [r.id for r in bundled_call().eligibility].index("max_duration")
    assert "at least 1" in problem_at(problems, f"eligibility[{index}].params.months").message
    assert "unknown field" in problem_at(problems, f"eligibility[{index}].params.weeks").message


def test_unknown_time_zone_is_reported():
    text = edited("timezone: Europe/Brussels", "timezone: Europe/Bruxelles")
    assert "unknown time zone" in problem_at(validate_call_text(text), "timezone").message


# ------------------------------------------------------------------ local times and DST
def test_nonexistent_local_time_is_rejected_with_its_path():
    # clocks in Brussels jump from 02:00 to 03:00 on 31 March 2019
    text = edited('start: "2019-02-01 00:00"', 'start: "2019-03-31 02:30"')
    problem = problem_at(validate_call_text(text), "timetable[2].start")
    assert "does not exist in Europe/Brussels" in problem.message


def test_ambiguous_local_time_is_rejected_with_its_path():
    # clocks in Brussels go back from 03:00 to 02:00 on 27 October 2019
    text = edited('end: "2019-11-01 00:00"', 'end: "2019-10-27 02:30"')
    problem = problem_at(validate_call_text(text), "timetable[4].end")
    assert "ambiguous" in problem.message


@pytest.mark.parametrize("written,utc_hour", [("2019-03-31T02:30:00+01:00", 1),
                                              ("2019-03-31T02:30:00+02:00", 0)])
def test_explicit_offset_is_accepted_even_in_a_dst_gap(written, utc_hour):
    call = load_call_text(edited('start: "2019-02-01 00:00"', f'start: "{written}"'))
    assert call.stage("evaluation").starts_at == datetime(2019, 3, 31, utc_hour, 30, tzinfo=UTC)


def test_unquoted_wall_time_is_read_in_the_call_zone_not_as_utc():
    call = load_call_text(edited('at: "2019-01-31 17:00"', "at: 2019-01-31 17:00:00"))
    assert call.deadline == datetime(2019, 1, 31, 16, 0, tzinfo=UTC)


def test_summer_wall_time_uses_summer_offset():
    call = load_call_text(edited('end: "2019-07-01 00:00"', 'end: "2019-06-30 23:30:30"'))
    assert call.stage("evaluation").ends_at == datetime(2019, 6, 30, 21, 30, 30, tzinfo=UTC)


def test_out_of_order_timetable_is_reported():
    text = edited('at: "2018-07-26 00:00"', 'at: "2019-02-26 00:00"')
    assert "out of order" in problem_at(validate_call_text(text), "timetable[1].at").message


# ------------------------------------------------------------------ money is exact
def test_yaml_decimals_are_read_exactly_and_never_as_floats():
    call = load_call_text(edited("prefinancing_rate: 0.60", "prefinancing_rate: 0.1"))
    assert call.grants.prefinancing_rate == Decimal("0.1")  # a float would give 0.1000000000000000055...
    assert str(call.grants.cofinancing_cap) == "0.90"


def test_topic_budgets_equal_to_the_call_budget_pass_and_one_cent_more_fails():
    assert validate_call_text(bundled_text()) == []
    text = edited("budget: 500_000", "budget: 500_000.01")
    assert "above the call budget" in problem_at(validate_call_text(text), "topics").message


def test_country_code_no_stays_text():
    # YAML 1.1 would read NO (Norway) as false; the call reader uses YAML 1.2 booleans
    call = load_call_text(edited("- {country: BE}\n", "- {country: BE}\n        - {country: NO}\n"))
    assert "NO" in call.participating_countries
