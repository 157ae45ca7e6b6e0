"""diff_calls: what an amendment changed, in words applicants can read."""
from decimal import Decimal

from shared.calls.diff import diff_calls
from shared.calls.loader import load_call_text

from .helpers import bundled_call, bundled_text, edited


def amended(*replacements):
    text = bundled_text()
    for old, new in replacements:
        text = edited(old, new, text)
    return load_call_text(text)


def test_identical_versions_have_no_changes():
    assert diff_calls(bundled_call(), bundled_call()) == []


def test_version_number_alone_is_not_a_change():
    assert diff_calls(bundled_call(), amended(("\nversion: 1\n", "\nversion: 2\n"))) == []


def test_moved_deadline_is_described_in_brussels_time():
    new = amended(('at: "2019-01-31 17:00"', 'at: "2019-01-31 18:30"'))
    assert diff_calls(bundled_call(), new) == [
        "timetable.submission_deadline moved from 2019-01-31 17:00 (Europe/Brussels) "
        "to 2019-01-31 18:30 (Europe/Brussels)"]


def test_topic_budget_change_uses_thousands_separators():
    new = amended(("budget: 16_200_000", "budget: 16_700_000"),
                  ("budget: 6_000_000\n    integration_areas: [local",
                   "budget: 6_500_000\n    integration_areas: [local"))
    changes = diff_calls(bundled_call(), new)
    assert "budget 16,200,000 -> 16,700,000" in changes
    assert "topic AMIF-2018-AG-INTE-1 budget 6,000,000 -> 6,500,000" in changes
    assert len(changes) == 2


def test_rule_param_and_period_changes_are_listed():
    new = amended(("max: 1_000_000", "max: 1_200_000"),
                  ('end: "2019-11-01 00:00"', 'end: "2019-11-15 00:00"'),
                  ('start: "2019-11-01 00:00"', 'start: "2019-11-15 00:00"'),
                  ("- {country: BE}\n", "- {country: BE}\n        - {country: NO}\n"))
    changes = diff_calls(bundled_call(), new)
    assert "eligibility.grant_range max 1,000,000 -> 1,200,000" in changes
    assert any(c.startswith("timetable.grant_preparation end moved from 2019-11-01 00:00")
               for c in changes)
    assert any(c.startswith("timetable.signature start moved") for c in changes)
    assert any("participating_country members: added" in c and "NO" in c for c in changes)
    assert len(changes) == 4


def test_added_topic_and_criterion_threshold_change():
    new = amended(("threshold: 21}", "threshold: 18}"))
    assert diff_calls(bundled_call(), new) == ["criterion relevance threshold 21 -> 18"]
    old = bundled_call()
    assert diff_calls(new, old) == ["criterion relevance threshold 18 -> 21"]
    assert new.evaluation.criterion("relevance").threshold == Decimal("18")
