"""What each event says about each proposal (domain.facts)."""
from services.operations.domain.facts import facts_of, show_due_dates
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


def test_due_dates_are_shown_in_the_calls_zone_as_the_mail_shows_them():
    """23:30 UTC on 31 October is 1 November in Brussels: the timeline said 2019-10-31."""
    from datetime import datetime, timedelta, timezone
    b = Builder()
    assigned = b.assigned("P-1", T5, "E1",
                          datetime(2019, 10, 31, 23, 30, tzinfo=timezone.utc) - timedelta(days=21))
    (_, fact), = facts_of(assigned)
    assert show_due_dates(fact.summary, "Europe/Brussels").endswith(
        "report due 1 November 2019, 00:30:00 CET (Europe/Brussels)")
    # the call not known: UTC, and it says so
    assert show_due_dates(fact.summary, None).endswith("report due 31 October 2019, 23:30:00 UTC")


def test_the_timeline_shows_due_dates_in_the_published_calls_zone(ops):
    from tests.support.operations_scenario import CALL_ID
    b = Builder()
    ops.feed(b.published(DEADLINE), b.submitted("P-1", T5, DEADLINE))
    ops.feed(b.assigned("P-1", T5, "E1", DEADLINE))  # due 21 days later, 17:00 Brussels
    (proposal,) = ops.report(CALL_ID)["proposals"]
    (line,) = [e["summary"] for e in proposal["timeline"] if e["event_type"] == "evaluator_assigned"]
    assert line.endswith("report due 21 February 2019, 17:00:00 CET (Europe/Brussels)"), line
