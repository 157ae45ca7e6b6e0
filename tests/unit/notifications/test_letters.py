import json
from datetime import timedelta
from decimal import Decimal

import pytest

from services.notifications.domain.letters import (LetterFacts, is_release, letter_outcome,
                                                   pending_reason, result_letters,
                                                   update_facts)
from services.notifications.domain.routing import route

from . import factories as f


def fold(*events):
    """What the service does: persist the facts each event changes."""
    known: dict[str, LetterFacts] = {}
    for event in events:
        known.update(update_facts(known, event))
    return known


def outcome_after(*events):
    return letter_outcome(fold(*events)["P-0042"])


@pytest.mark.parametrize("events,expected", [
    ((f.screened(), f.completed(), f.ranking("main")), "selected"),
    ((f.screened(), f.completed(), f.ranking("reserve", rank=7)), "reserve"),
    ((f.screened(), f.completed(passed=False, failed_thresholds=["relevance"])), "rejected"),
    ((f.screened(), f.completed(), f.ranking("rejected")), "rejected"),
    ((f.screened(admissible=False, failed=f.MISSING_PART),), "inadmissible"),
    ((f.screened(eligible=False, failed=f.FAILED_RULES),), "ineligible"),
    ((f.screened(), f.completed(), f.ranking("main"), f.withdrawn()), None),
    ((f.screened(), f.completed()), None),  # passed, ranking not published
    ((f.screened(),), None),
])
def test_letter_outcome_follows_the_facts_known(events, expected):
    assert outcome_after(*events) == expected


def test_pending_reasons_say_what_is_missing():
    assert pending_reason(fold(f.screened())["P-0042"]) == "evaluation not completed"
    assert pending_reason(fold(f.screened(), f.completed())["P-0042"]) == \
        "ranking not published"
    assert pending_reason(fold(f.withdrawn())["P-0042"]) is None  # never: no letter due
    assert pending_reason(fold(f.screened(), f.completed(), f.ranking())["P-0042"]) is None


def test_ranking_sends_nothing_letters_wait_for_the_information_milestone(call):
    facts = fold(f.screened(), f.completed(), f.ranking("main"))
    assert route(f.ranking("main"), call) == []
    assert not is_release(f.stage("evaluation_end"))
    assert is_release(f.stage("information_to_applicants"))
    assert is_release(f.stage("information_to_applicants_start"))
    assert not is_release(f.ranking())
    milestone = f.stage()
    letters = result_letters(facts.values(), call, milestone.at, milestone)
    assert [(x.recipient, x.template) for x in letters] == [
        ("anna.rossi@comune.example.it", "result_letter"),
        ("office@comune.example.it", "result_letter")]
    assert letters[0].context["outcome"] == "selected"
    assert letters[0].source_event_id == milestone.event_id


def test_screened_out_proposal_gets_its_letter_at_the_milestone_withdrawn_none(call):
    ineligible = fold(f.screened(eligible=False, failed=f.FAILED_RULES))["P-0042"]
    gone = fold(f.screened(), f.withdrawn())["P-0042"]
    other = LetterFacts(**{**vars(gone), "proposal_id": "P-0099"})
    letters = result_letters([ineligible, other], call, f.RELEASE_AT, f.stage())
    assert {x.proposal_id for x in letters} == {"P-0042"}
    rules = [r["text"] for r in letters[0].context["failed_rules"]]
    assert len(rules) == 3 and letters[0].context["evaluation"] is None


def test_one_letter_key_per_proposal_whatever_released_it(call):
    facts = fold(f.screened(), f.completed(), f.ranking("reserve", rank=7))
    at_milestone = result_letters(facts.values(), call, f.RELEASE_AT, f.stage())
    late = result_letters(facts.values(), call, f.RELEASE_AT + timedelta(days=2),
                          f.ranking("reserve", rank=7))
    assert [x.key for x in at_milestone] == [x.key for x in late]
    assert at_milestone[0].key[0] == "result-letter:P-0042"


def test_letter_context_carries_the_evaluation_summary_and_redress(call):
    facts = fold(f.screened(), f.completed(passed=False,
                                           scores={**f.SCORES, "relevance": Decimal("18")},
                                           failed_thresholds=["relevance"]))
    [letter, _] = result_letters(facts.values(), call, f.RELEASE_AT, f.stage())
    context = letter.context
    assert context["outcome"] == "rejected" and context["below_threshold"] is True
    summary = context["evaluation"]
    assert [(c["title"], c["score"], c["max"]) for c in summary["criteria"]] == [
        ("Relevance", "18", "30"), ("Quality of the project", "17.5", "20"),
        ("Cost-effectiveness", "12", "15"), ("European added value", "13", "15"),
        ("Expected results and impact", "16", "20")]
    assert summary["total"] == "76.5" and summary["max_total"] == "100"
    assert summary["failed_thresholds"] == \
        ["Relevance: 18 points, below the threshold of 21"]
    assert context["redress"] == {"days": 30, "deadline": "31 July 2019",
                                  "timezone": "Europe/Brussels"}
    json.dumps(context)


def test_ranking_scores_stand_in_when_no_consensus_event_was_seen(call):
    facts = fold(f.screened(), f.ranking("reserve", rank=3))
    [letter, _] = result_letters(facts.values(), call, f.RELEASE_AT, f.stage())
    assert letter.context["rank"] == 3
    assert letter.context["evaluation"]["total"] == "84.5"


def test_facts_survive_a_json_round_trip():
    facts = fold(f.screened(), f.completed(), f.ranking("reserve", rank=7))["P-0042"]
    stored = json.loads(json.dumps(facts.as_record()))
    assert LetterFacts.from_record(stored) == facts
