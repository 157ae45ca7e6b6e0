"""What each event says about each proposal (domain.facts)."""
from services.operations.domain.facts import facts_of
from tests.support.operations_scenario import RANKED, T5, Builder, DEADLINE


def test_a_ranking_gives_each_ranked_proposal_its_list_rank_and_grant():
    b = Builder()
    ranking = b.ranking(T5, "500000", RANKED, main=[("P-SIG", 1, "88.00")],
                        reserve=[("P-RES", 2, "76.00")], rejected=[("P-REJ", None, "55.00")])
    found = {pid: f for pid, f in facts_of(ranking)}
    assert found["P-SIG"].data["list"] == "main" and found["P-SIG"].data["rank"] == 1
    assert found["P-RES"].data["amount"] == "300000.00"
    assert found["P-REJ"].summary == f"rejected in the ranking of {T5} (55.00 points)"
    assert found["P-SIG"].summary.startswith(f"ranked 1 on the main list of {T5}")
    assert {f.event_id for f in found.values()} == {ranking.event_id}


def test_a_deadline_concerns_every_frozen_proposal_with_its_version():
    b = Builder()
    closed = b.closed(T5, {"P-1": 2, "P-2": 1}, DEADLINE)
    assert {pid: f.data["version"] for pid, f in facts_of(closed)} == {"P-1": 2, "P-2": 1}


def test_call_wide_events_concern_no_proposal():
    b = Builder()
    assert facts_of(b.published(DEADLINE)) == []
    assert facts_of(b.stage("publication", "Publication", DEADLINE)) == []


def test_screening_summaries_name_the_failed_rules():
    b = Builder()
    screened = b.screened("P-1", T5, DEADLINE, "required_parts", "admissibility")
    (_, fact), = facts_of(screened)
    assert fact.summary == "screened: inadmissible (failed: required_parts)"
    assert fact.data["failed_rules"] == [{"rule": "required_parts", "kind": "admissibility",
                                          "message": "required_parts not met"}]
