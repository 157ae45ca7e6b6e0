"""The call's timetable, its current stage and the end of the signature period."""
from shared.calls.loader import load_default_call
from services.operations.domain.timetable import Reached, current, signature_ended, timetable
from tests.support.operations_scenario import RANKED, STAGES, at

CALL = load_default_call()


def reached(*keys):
    return [Reached(k, label, when) for k, label, when in STAGES if k in keys]


def test_the_current_stage_is_the_latest_instant_whatever_the_arrival_order():
    stages = reached("publication", "submission_deadline", "evaluation_start")
    assert current(list(reversed(stages))).stage == "evaluation_start"
    assert current([]) is None


def test_of_two_milestones_at_one_instant_the_later_in_the_timetable_is_current():
    both = reached("grant_preparation_start", "information_to_applicants")
    assert current(both, CALL).stage == "grant_preparation_start"
    assert current(list(reversed(both)), CALL).stage == "grant_preparation_start"


def test_timetable_flags_reached_and_current_milestones():
    rows = timetable(CALL, reached("publication", "submission_deadline"))
    flags = {r["key"]: (r["reached"], r["current"]) for r in rows}
    assert flags["publication"] == (True, False)
    assert flags["submission_deadline"] == (True, True)
    assert flags["evaluation_start"] == (False, False)
    assert rows[1]["local"].startswith("2019-01-31T17:00:00+01:00")  # Brussels time


def test_a_stage_named_like_the_stage_itself_still_finds_its_milestone():
    rows = timetable(CALL, [Reached("evaluation", "Evaluation", at("2019-01-31T23:00:00"))])
    assert [r["key"] for r in rows if r["current"]] == ["evaluation_start"]


def test_signature_ends_by_name_or_by_instant():
    assert not signature_ended(CALL, [Reached("grant_preparation_start", "x", RANKED)])
    assert signature_ended(None, [Reached("signature_end", "x", RANKED)])
    assert signature_ended(CALL, [Reached("later", "x", at("2020-01-01T00:00:00"))])
    assert not signature_ended(None, [Reached("later", "x", at("2020-01-01T00:00:00"))])
