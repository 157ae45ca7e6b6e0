"""The evaluation handlers on a real SQLite unit of work: events in any order, the first
assignment, consensus and the ranking, redeliveries."""
import json
from datetime import timedelta

import sqlalchemy as sa

from services.evaluation.handlers import evaluators, views
from tests.support.evaluation_events import (
    DEADLINE, T0, TOPIC, call_published, deadline_closed, expert_record, screened, stage,
    withdrawn)
from tests.unit.evaluation.handler_support import evaluator, refusal, scores

HIGH, MID, LOW_RELEVANCE = (27, 18, 13, 13, 17), (24, 15, 12, 12, 15), (18, 18, 14, 14, 18)


def report_all(h, pid, values):
    for expert_id in sorted(h.experts_of(pid)):
        evaluators.save_report(h.uow(), h.clock, evaluator(expert_id), pid, scores(values),
                               "individual")


def test_screening_before_its_manifest_and_stage_before_the_call_still_assign(h):
    # everything arrives in the worst order: stage, screening, call, manifest
    h.deliver(stage("evaluation_start"), screened("P-2"))
    h.import_experts([expert_record(i) for i in range(1, 6)])
    assert h.sweep() == []  # no call, no manifest: nothing to do yet
    h.deliver(call_published(), deadline_closed(["P-1", "P-2"]))
    assert h.sweep() == []  # P-1 not screened yet: the topic waits
    h.deliver(screened("P-1"))
    [outcome] = h.sweep()
    assert outcome.status == "optimal" and outcome.kind == "initial"
    assert {p for _, p in h.active_pairs()} == {"P-1", "P-2"}
    assert all(len(h.experts_of(p)) == 2 for p in ("P-1", "P-2"))
    events = h.outbox("evaluator_assigned")
    assert len(events) == 4 and {e["reason"] for e in events} == {"initial"}
    assert {e["due_at"] for e in events} == {(T0 + timedelta(days=21)).isoformat()}
    assert h.sweep() == []  # nothing left to do


def test_no_assignment_before_the_evaluation_period_starts(h):
    h.deliver(call_published(), deadline_closed(["P-1"]), screened("P-1"))
    h.import_experts([expert_record(i) for i in range(1, 4)])
    assert h.sweep() == [] and h.active_pairs() == set()


def test_redelivered_events_have_no_second_effect(h):
    h.open_topic(["P-1"])
    before = (h.active_pairs(), len(h.outbox()))
    # the same facts again under new event ids (a replay by submission): handled, no effect
    h.deliver(deadline_closed(["P-1"]), screened("P-1"), stage("evaluation_start"))
    assert h.sweep() == []
    assert (h.active_pairs(), len(h.outbox())) == before


def test_same_event_delivered_twice_is_skipped(h):
    event = call_published()
    first, second = h.deliver(event, event)
    assert first is True and second is None


def test_ineligible_proposals_are_not_assigned_nor_ranked(h):
    h.open_topic(["P-1", "P-2"], ineligible=["P-2"])
    assert h.experts_of("P-2") == set()
    report_all(h, "P-1", HIGH)
    [ranking] = h.outbox("ranking_published")
    assert [e["proposal_id"] for e in ranking["main"]] == ["P-1"]
    assert ranking["reserve"] == [] and ranking["rejected"] == []


def test_completed_topic_is_ranked_with_thresholds_budget_and_tie_break(h):
    pids = ["P-1", "P-2", "P-3", "P-4"]
    h.deliver(call_published(), deadline_closed(pids),
              screened("P-1", grant=2_500_000), screened("P-2", grant=2_500_000),
              screened("P-3", grant=1_500_000), screened("P-4", grant=500_000))
    h.import_experts([expert_record(i) for i in range(1, 7)])
    h.deliver(stage("evaluation_start"))
    h.sweep()
    report_all(h, "P-1", HIGH)
    report_all(h, "P-2", (26, 19, 13, 13, 17))  # 88: tied with P-1 on total
    report_all(h, "P-3", MID)
    assert h.outbox("ranking_published") == []  # P-4 not evaluated yet
    report_all(h, "P-4", LOW_RELEVANCE)  # 82 in total but relevance 18 < 21
    completed = {e["proposal_id"]: e for e in h.outbox("evaluation_completed")}
    assert completed["P-4"]["passed"] is False
    assert completed["P-4"]["failed_thresholds"] == ["relevance"]
    assert completed["P-1"]["total"] == "88.00" and completed["P-1"]["passed"]

    [ranking] = h.outbox("ranking_published")
    main = [(e["proposal_id"], e["rank"]) for e in ranking["main"]]
    assert main == [("P-1", 1), ("P-2", 2)]
    assert ranking["main"][0]["tie_break"] == (
        "tie on total 88.0 with P-2 broken by relevance 27.0 > 26.0")
    # 6,000,000 - 2 x 2,500,000 leaves 1,000,000: P-3 (1,500,000) does not fit
    assert [(e["proposal_id"], e["rank"]) for e in ranking["reserve"]] == [("P-3", 3)]
    assert [e["grant_amount"] for e in ranking["main"]] == ["2500000.00", "2500000.00"]
    assert ranking["funded_total"] == "5000000.00"
    assert [(e["proposal_id"], e["failed_thresholds"]) for e in ranking["rejected"]] == [
        ("P-4", ["relevance"])]
    topic = views.ranking(h.uow(), "AMIF-2018-AG-INTE", TOPIC)
    assert topic["event_id"] == ranking["event_id"]


def test_withdrawn_proposal_releases_its_evaluators_and_leaves_the_ranking(h):
    h.open_topic(["P-1", "P-2"])
    released_from = h.experts_of("P-2")
    report_all(h, "P-1", HIGH)
    h.deliver(withdrawn("P-2"))
    releases = h.outbox("evaluator_released")
    assert {(e["expert_id"], e["reason"]) for e in releases} == {
        (e, "proposal_withdrawn") for e in released_from}
    [ranking] = h.outbox("ranking_published")  # P-2 was the only one missing
    assert [e["proposal_id"] for e in ranking["main"]] == ["P-1"]
    assert h.sweep() == []  # a withdrawn proposal is not repaired


def test_withdrawal_after_the_ranking_changes_nothing(h):
    h.open_topic(["P-1"])
    report_all(h, "P-1", HIGH)
    published = len(h.outbox())
    h.deliver(withdrawn("P-1"))
    assert len(h.outbox()) == published


def test_evaluation_end_ranks_what_is_evaluated_and_rejects_the_rest(h):
    h.open_topic(["P-1", "P-2"])
    report_all(h, "P-1", HIGH)
    h.deliver(stage("evaluation_end", T0 + timedelta(days=150)))
    [ranking] = h.outbox("ranking_published")
    assert [e["proposal_id"] for e in ranking["main"]] == ["P-1"]
    assert [(e["proposal_id"], e["failed_thresholds"], e["total"]) for e in ranking["rejected"]] \
        == [("P-2", ["evaluation_incomplete"], "0")]
    # and the unfinished evaluation is closed for good
    late = sorted(h.experts_of("P-2"))[0]
    code, errors = refusal(evaluators.save_report, h.uow(), h.clock, evaluator(late), "P-2",
                           scores(HIGH), "individual")
    assert (code, errors) == (409, [{"field": "proposal_id", "rule": "ranking published"}])


def test_empty_topics_are_ranked_when_the_evaluation_starts(h):
    h.deliver(call_published(), deadline_closed([], topic="AMIF-2018-AG-INTE-5"),
              stage("evaluation_start"))
    [ranking] = h.outbox("ranking_published")
    assert ranking["topic_id"] == "AMIF-2018-AG-INTE-5" and ranking["main"] == []


def test_manifest_receipt_times_reach_the_ranking(h):
    h.open_topic(["P-1", "P-2"])
    report_all(h, "P-1", HIGH)
    report_all(h, "P-2", HIGH)
    [ranking] = h.outbox("ranking_published")
    first, second = ranking["main"]
    assert first["proposal_id"] == "P-1"  # received a minute earlier (see deadline_closed)
    assert "receipt time" in first["tie_break"]
    assert (DEADLINE - timedelta(hours=1)).isoformat() in first["tie_break"]


def test_a_ranking_stores_every_outcome_in_one_batched_statement(h):
    # a topic's ranking sets the outcome of each of its proposals: one statement each
    # was 38,000 at the largest topic of a 100,000-proposal call
    pids = [f"P-{i}" for i in range(1, 7)]
    h.deliver(call_published(), deadline_closed(pids),
              *(screened(pid, grant=500_000) for pid in pids))
    h.import_experts([expert_record(i) for i in range(1, 9)])
    h.deliver(stage("evaluation_start"))
    h.sweep()
    for pid in pids[:-1]:
        report_all(h, pid, HIGH)
    updates = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE PROPOSALS SET OUTCOME"):
            updates.append(len(parameters) if executemany else 1)

    sa.event.listen(h.factory.engine, "before_cursor_execute", count)
    try:
        report_all(h, pids[-1], MID)  # the last report completes the topic: it is ranked
    finally:
        sa.event.remove(h.factory.engine, "before_cursor_execute", count)
    [ranking] = h.outbox("ranking_published")
    assert updates == [len(pids)]
    placed = {e["proposal_id"]: ("main", e["rank"]) for e in ranking["main"]}
    placed |= {e["proposal_id"]: ("reserve", e["rank"]) for e in ranking["reserve"]}
    with h.uow() as uow:
        rows = uow.session.execute(sa.text(
            "SELECT proposal_id, outcome FROM proposals")).all()
    stored = {pid: json.loads(outcome) if isinstance(outcome, str) else outcome
              for pid, outcome in rows}
    assert {pid: (o["list"], o["rank"]) for pid, o in stored.items()} == placed
