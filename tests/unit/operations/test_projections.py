"""The operations projections built by the real handlers on SQLite, from a whole call's
events: in order, shuffled, and delivered twice."""
import json
import random
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.operations import handlers
from services.operations.adapters.tables import event_counts, proposal_events
from tests.support.operations_scenario import (CALL_ID, CURRENT_STAGE, EXPECTED, LETTERS_SENT,
                                               LOADS, T1, T5, Builder, at, call_events,
                                               wire)
from shared.events import load
from shared.web import NotFound, to_json


def _outcomes(report: dict) -> dict:
    return {p["id"]: (p["topic"], p["final_state"], p["state"], p["failed_rules"],
                      None if p["total_score"] is None else f"{Decimal(p['total_score']):.2f}",
                      p["rank"], p["list"]) for p in report["proposals"]}


def _without_clock(report: dict) -> dict:
    return {**report, "summary": {k: v for k, v in report["summary"].items()
                                  if k != "generated_at"}}


def test_a_whole_call_in_order_gives_every_final_state(ops):
    ops.feed(*call_events())

    report = ops.report(CALL_ID)

    assert _outcomes(report) == EXPECTED
    summary = report["summary"]
    assert summary["by_final_state"] == {"withdrawn": 1, "inadmissible": 1, "ineligible": 1,
                                         "rejected": 1, "reserve": 1, "declined": 1,
                                         "grant_signed": 2}
    assert summary["proposals"] == 9 and summary["final"] == 8
    assert summary["by_state"]["under_evaluation"] == 1
    assert summary["grants_signed"] == 2
    assert summary["granted_total"] == "440000.00"  # amounts are strings on the wire
    assert summary["letters_sent"] == LETTERS_SENT
    assert summary["notifications"]["delivered"] == LETTERS_SENT + 2
    assert summary["notifications"]["failed"] == 1
    topic = next(t for t in summary["topics"] if t["topic_id"] == T5)
    assert (topic["budget"], topic["ranking_funded_total"], topic["signed_total"],
            topic["remaining"]) == ("500000.00", "450000.00", "440000.00", "60000.00")
    assert (topic["main"], topic["reserve"], topic["rejected"], topic["promoted"],
            topic["grants_signed"]) == (2, 2, 1, 1, 2)
    # topics without proposals still show their budget from the call
    assert next(t for t in summary["topics"]
                if t["topic_id"] == "AMIF-2018-AG-INTE-3")["budget"] == "2500000"


def test_views_derived_page_by_page_are_the_views_derived_at_once(ops, tmp_path, monkeypatch):
    """A ranking or a closing names every proposal of a topic: their views are derived and
    stored a page at a time. Pages of two give the report and the reserve settling (the
    ranked topics of every page) of one page."""
    from tests.unit.operations.conftest import Ops
    from tests.support.uow import UowFactory

    events = call_events()
    ops.feed(*events)
    monkeypatch.setattr(handlers.events, "RECOMPUTE_PAGE", 2)
    paged = Ops(UowFactory("services.operations:migrations", tmp_path / "paged.sqlite",
                           "operations"))
    paged.feed(*events)

    assert _without_clock(paged.report(CALL_ID)) == _without_clock(ops.report(CALL_ID))
    assert _outcomes(paged.report(CALL_ID)) == EXPECTED
    paged.factory.engine.dispose()


def test_the_report_written_in_pages_is_the_report_written_at_once(ops, monkeypatch):
    """The report (and the proposals' list) is read and written a page of proposals at a
    time; the summary is folded over the pages. Pages of two over nine proposals (the
    last page short) give the text of one page, and the summary counts what the overview
    counts."""
    ops.feed(*call_events())
    listed = ops.proposals(CALL_ID)

    paged, whole = ops.report(CALL_ID, page=2), ops.report(CALL_ID, page=1000)
    monkeypatch.setattr(handlers.queries, "REPORT_PAGE", 2)
    assert ops.proposals(CALL_ID) == listed and len(listed) == 9

    assert paged == whole and len(paged["proposals"]) == 9
    overview = json.loads(to_json(ops.overview(CALL_ID)))
    assert overview["counts"] == {k: paged["summary"][k] for k in
                                  ("proposals", "final", "by_state", "by_final_state")}
    assert overview["topics"] == paged["summary"]["topics"]


def test_each_proposal_timeline_is_in_lifecycle_order_with_causes_first(ops):
    ops.feed(*call_events())
    timelines = {p["id"]: p["timeline"] for p in ops.report(CALL_ID)["proposals"]}

    promoted = [e["event_type"] for e in timelines["P-PRO"]]
    # promotion, its grant file, signature: all after the ranking; cause before effect at
    # the same instant (the decline that freed the budget is P-DEC's, not in this timeline)
    assert promoted[-3:] == ["reserve_promoted", "grant_preparation_started", "grant_signed"]
    assert promoted.index("ranking_published") < promoted.index("reserve_promoted")
    assert promoted[0] == "proposal_submitted" and promoted[1] == "deadline_closed"
    withdrawn = [e["event_type"] for e in timelines["P-WDR"]]
    assert withdrawn == ["proposal_submitted", "proposal_submitted", "proposal_withdrawn"]
    rejected = timelines["P-REJ"]
    assert [e["event_type"] for e in rejected][-2:] == ["ranking_published",
                                                        "notification_delivered"]
    assert rejected[-1]["summary"] == "result letter sent to p-rej@applicant.example.eu"
    times = [e["occurred_at"] for e in timelines["P-SIG"]]
    assert times == sorted(times)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_any_arrival_order_and_redelivery_give_the_same_projections(ops, seed):
    events = call_events()
    shuffled = events + random.Random(seed).sample(events, k=len(events) // 2)
    random.Random(seed).shuffle(shuffled)

    ops.feed(*shuffled)

    assert _outcomes(ops.report(CALL_ID)) == EXPECTED
    with ops.uow() as uow:
        counted = sum(uow.session.execute(sa.select(event_counts.c.count)).scalars())
    assert counted == len(events)  # each event had its effect once


def test_shuffled_and_ordered_feeds_give_identical_reports(ops, tmp_path):
    from tests.unit.operations.conftest import Ops
    from tests.support.uow import UowFactory

    events = call_events()
    ops.feed(*events)
    other = Ops(UowFactory("services.operations:migrations", tmp_path / "other.sqlite",
                           "operations"))
    other.feed(*random.Random(7).sample(events, k=len(events)))

    assert _without_clock(other.report(CALL_ID)) == _without_clock(ops.report(CALL_ID))
    other.factory.engine.dispose()


def test_a_waiting_reserve_becomes_final_only_when_the_chain_cannot_reach_it(ops):
    events = call_events(until_signed=False)
    ops.feed(*events)
    waiting = {p["id"]: p for p in ops.report(CALL_ID)["proposals"]}["P-RES"]
    # P-PRO's grant is open: if it were declined, its EUR 240,000 would fit P-RES
    assert (waiting["state"], waiting["final_state"]) == ("reserve_list", None)

    ops.feed(Builder().signed("P-PRO", T5, at("2019-10-15T12:00:00")))

    settled = {p["id"]: p for p in ops.report(CALL_ID)["proposals"]}["P-RES"]
    assert (settled["state"], settled["final_state"]) == ("reserve", "reserve")


def test_the_end_of_the_signature_period_settles_every_waiting_reserve(ops):
    ops.feed(*call_events(until_signed=False))
    ops.feed(Builder().stage("signature_end", "Signature of grant agreements ends",
                             at("2019-12-31T23:00:00")))
    states = {p["id"]: p["final_state"] for p in ops.report(CALL_ID)["proposals"]}
    assert states["P-RES"] == "reserve"
    assert states["P-PRO"] is None  # promoted, in grant preparation: not a reserve


def test_overview_shows_the_latest_stage_reached_even_when_it_arrived_first(ops):
    events = call_events()
    stages = [e for e in events if e.event_type() == "timetable_stage_reached"]
    ops.feed(*reversed(stages))
    ops.feed(*[e for e in events if e not in stages])

    overview = ops.overview(CALL_ID)

    assert overview["current_stage"]["stage"] == CURRENT_STAGE
    current = [m for m in overview["timetable"] if m["current"]]
    assert [m["key"] for m in current] == [CURRENT_STAGE]
    reached = [m["key"] for m in overview["timetable"] if m["reached"]]
    assert reached == ["publication", "submission_deadline", "evaluation_start",
                       "evaluation_end", "information_to_applicants", "grant_preparation_start"]
    assert overview["timetable"][-1]["key"] == "signature_end"
    assert overview["timetable"][-1]["reached"] is False
    assert overview["call"]["title"] == "Integration of third-country nationals"
    assert overview["counts"]["by_final_state"]["grant_signed"] == 2
    assert overview["totals"]["letters_sent"] == LETTERS_SENT


def test_a_stage_before_the_call_document_is_still_shown(ops):
    b = Builder()
    b.stage("submission_deadline", "Submission deadline", at("2019-01-31T16:00:00"))
    ops.feed(*b.events)
    overview = ops.overview(CALL_ID)
    assert overview["call"]["published"] is False
    assert overview["current_stage"]["label"] == "Submission deadline"
    assert [m["key"] for m in overview["timetable"]] == ["submission_deadline"]


def test_loads_count_current_assignments_per_expert_and_topic(ops):
    ops.feed(*call_events())
    experts = {e["expert_id"]: e for e in handlers.loads(ops.uow(), CALL_ID)["experts"]}
    assert {k: (e["current"], e["by_topic"], e["released"]) for k, e in experts.items()} == LOADS
    assert experts["E3"]["reports_due"] == 4 and experts["E1"]["reports_due"] == 0
    assert handlers.loads(ops.uow(), "another-call")["experts"] == []


def test_a_release_that_arrives_before_its_assignment_still_ends_it(ops):
    b = Builder()
    assigned = b.assigned("P-1", T1, "E9", at("2019-02-01T09:00:00"))
    released = b.released("P-1", T1, "E9", at("2019-02-03T09:00:00"))
    ops.feed(released, assigned)
    expert = handlers.loads(ops.uow())["experts"][0]
    assert (expert["current"], expert["released"]) == (0, 1)


def test_proposal_detail_and_raw_timeline(ops):
    ops.feed(*call_events())
    detail = handlers.proposal(ops.uow(), "P-INA")
    assert detail["state"] == "inadmissible" and detail["admissible"] is False
    assert detail["failed_rule_details"][0]["rule"] == "required_parts"
    assert detail["timeline"][-1]["summary"] == \
        "screening result sent to p-ina@applicant.example.eu"
    raw = handlers.proposal_timeline(ops.uow(), "P-SIG")
    assert raw[0]["payload"]["event_type"] == "proposal_submitted"
    assert [e["event_type"] for e in raw].count("evaluator_assigned") == 4


def test_a_proposal_known_only_by_a_notification_has_a_timeline_but_no_state(ops):
    b = Builder()
    submitted = b.submitted("P-9", T1, at("2019-01-10T10:00:00"))
    ops.feed(b.delivered("P-9", "submission_receipt", submitted))
    detail = handlers.proposal(ops.uow(), "P-9")
    assert detail["state"] is None and detail["timeline"][0]["event_type"] == \
        "notification_delivered"
    assert ops.proposals(CALL_ID) == []
    assert handlers.list_calls(ops.uow())["calls"][0]["proposals"] == 0


def test_a_message_waiting_for_smtp_shows_as_retrying_until_its_outcome_arrives(ops):
    b = Builder()
    ops.feed(*call_events()[:3])
    submitted = b.submitted("P-9", T1, at("2019-01-10T10:00:00"))
    deferred = b.deferred("P-9", "submission_receipt", submitted)
    delivered = b.delivered("P-9", "submission_receipt", submitted, after_deferral=True)
    ops.feed(deferred)
    sent = ops.overview(CALL_ID)["totals"]["notifications"]
    assert (sent["retrying"], sent["failed"], sent["delivered"]) == (1, 0, 0)
    ops.feed(delivered, deferred)  # a redelivered deferral changes nothing
    sent = ops.overview(CALL_ID)["totals"]["notifications"]
    assert (sent["retrying"], sent["failed"], sent["delivered"]) == (0, 0, 1)


def test_unknown_ids_are_404_naming_the_field(ops):
    ops.feed(*call_events()[:3])
    for query, field in ((lambda: ops.overview("NOPE"), "call_id"),
                         (lambda: ops.report("NOPE"), "call_id"),
                         (lambda: ops.proposals("NOPE"), "call_id"),
                         (lambda: handlers.proposal(ops.uow(), "P-NONE"), "proposal_id"),
                         (lambda: handlers.proposal_timeline(ops.uow(), "P-NONE"), "proposal_id")):
        with pytest.raises(NotFound) as raised:
            query()
        assert raised.value.errors == [{"field": field, "rule": raised.value.errors[0]["rule"]}]
        assert raised.value.errors[0]["rule"].startswith("unknown")


def test_call_proposals_filter_by_state_and_topic(ops):
    ops.feed(*call_events())
    signed = ops.proposals(CALL_ID, state="grant_signed")
    assert [p["id"] for p in signed] == ["P-SIG", "P-PRO"]  # by rank
    assert [p["id"] for p in ops.proposals(CALL_ID, topic=T1)] == ["P-EVA"]
    assert handlers.list_calls(ops.uow())["calls"][0]["proposals"] == 9


def test_a_ranking_concerns_every_ranked_proposal_once(ops):
    ops.feed(*call_events())
    with ops.uow() as uow:
        rows = uow.session.execute(sa.select(proposal_events.c.proposal_id).where(
            proposal_events.c.event_type == "ranking_published")).scalars().all()
    assert sorted(rows) == ["P-DEC", "P-PRO", "P-REJ", "P-RES", "P-SIG"]


def test_state_gauge_reflects_the_projection(ops):
    from prometheus_client import REGISTRY

    ops.feed(*call_events())
    handlers.refresh_state_gauge(ops.uow())
    value = REGISTRY.get_sample_value("grantflow_operations_proposals",
                                      {"call_id": CALL_ID, "state": "grant_signed"})
    assert value == 2
    assert REGISTRY.get_sample_value("grantflow_operations_proposals",
                                     {"call_id": CALL_ID, "state": "frozen"}) == 0


def test_a_rebuild_from_the_timeline_repairs_the_projections_and_changes_nothing_else(ops):
    from services.operations.adapters.tables import proposals

    ops.feed(*call_events())
    before = _without_clock(ops.report(CALL_ID))
    loads_before = handlers.loads(ops.uow(), CALL_ID)
    with ops.uow() as uow:  # damage: a wrong state, a lost counter
        uow.session.execute(proposals.update().values(state="frozen", final_state=None))
        uow.session.execute(sa.text("DELETE FROM notification_counts"))
        uow.commit()
    assert _without_clock(ops.report(CALL_ID)) != before

    result = handlers.rebuild(ops.uow(), CALL_ID, ops.now)
    again = handlers.rebuild(ops.uow(), CALL_ID, ops.now)

    assert result == again == {"call_id": CALL_ID, "events": len(call_events()),
                               "proposals": len(EXPECTED)}
    assert _without_clock(ops.report(CALL_ID)) == before
    assert handlers.loads(ops.uow(), CALL_ID) == loads_before
    with ops.uow() as uow:
        assert sum(uow.session.execute(sa.select(event_counts.c.count)).scalars()) == \
            len(call_events())
    with pytest.raises(NotFound):
        handlers.rebuild(ops.uow(), "NOPE", ops.now)



def test_a_batch_takes_its_calls_lock_once_and_the_next_transaction_takes_it_again(ops):
    events = [load(wire(event)) for event in call_events()]
    upserts = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CALLS "):
            upserts.append(statement)

    def consume(batch):
        ops.factory("operations.record_submission_events").consume_batch(
            batch, lambda uow, event: handlers.on_event(uow, event, ops.now),
            prepare=handlers.lock_calls)

    sa.event.listen(ops.factory.engine, "before_cursor_execute", seen)
    try:
        consume(events[:20])
        assert len(upserts) == 1  # lock_calls took it; each event's on_event found it held
        consume(events[20:25])
        assert len(upserts) == 2  # a new transaction holds no lock: it takes it again
    finally:
        sa.event.remove(ops.factory.engine, "before_cursor_execute", seen)
