"""Reports, consensus (spread, extra evaluator, note, rapporteur) and summary reports
through the evaluation handlers."""
from collections import Counter
from datetime import timedelta

from services.evaluation.handlers import assigning, evaluators, views
from shared.auth import Principal
from tests.support.evaluation_events import T0, contacts, expert_record, stage
from tests.support.plans import selects_of, tables_read
from tests.unit.evaluation.handler_support import OPS, evaluator, refusal, scores

GOOD, POOR = (27, 18, 13, 13, 17), (15, 10, 8, 8, 10)  # 88 and 51: spread 37 > 20


def save(h, expert_id, pid, body, kind="individual"):
    return evaluators.save_report(h.uow(), h.clock, evaluator(expert_id), pid, body, kind)


# ------------------------------------------------------------------ reports
def test_report_rules_name_the_field_and_the_rule(h):
    h.open_topic(["P-1"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    body = scores((31, 18, 13, 13, 17))
    body["criteria"]["quality"]["comment"] = "short"
    body["criteria"]["charm"] = {"score": 5, "comment": "not a criterion of the call"}
    code, errors = refusal(save, h, expert_id, "P-1", body)
    assert code == 422
    assert {(e["field"], e["rule"]) for e in errors} == {
        ("criteria.charm", "is not a criterion of this call"),
        ("criteria.relevance.score", "31 is above the maximum 30")}
    # a draft may be incomplete; finalising it names what is missing
    draft = {"criteria": {"relevance": {"score": "27.5", "comment": "short"}}, "final": False}
    assert save(h, expert_id, "P-1", draft)["final"] is False
    code, errors = refusal(evaluators.finalise_report, h.uow(), h.clock, evaluator(expert_id),
                         "P-1", "individual")
    assert code == 422
    assert {"field": "criteria.relevance.comment",
            "rule": "must be at least 10 characters (has 5)"} in errors
    assert {"field": "criteria.quality.score", "rule": "is required"} in errors


def test_a_final_report_is_locked(h):
    h.open_topic(["P-1"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    assert save(h, expert_id, "P-1", scores(GOOD))["final"] is True
    assert [e["final"] for e in h.outbox("evaluation_report_submitted")] == [True]
    code, errors = refusal(save, h, expert_id, "P-1", scores(POOR))
    assert code == 409 and "final" in errors[0]["rule"]


def test_only_assigned_experts_write_and_finalising_needs_a_draft(h):
    h.open_topic(["P-1"])
    outsider = ({f"E-{i}" for i in range(1, 7)} - h.experts_of("P-1")).pop()
    assert refusal(save, h, outsider, "P-1", scores(GOOD))[0] == 404
    assert refusal(save, h, outsider, "P-404", scores(GOOD))[0] == 404
    insider = sorted(h.experts_of("P-1"))[0]
    assert refusal(evaluators.finalise_report, h.uow(), h.clock, evaluator(insider), "P-1",
                 "individual")[0] == 404


def reads_by_table(h, run) -> Counter:
    """The SELECT statements ``run`` sends, by the table each reads from."""
    return tables_read(selects_of(h.factory.engine, run))


def test_a_report_reads_what_it_checks_once_and_settling_reads_none_of_it_again(h):
    """The writer's checks (assigned, clear of conflicts, open) and the consensus that
    follows a final report share one read of each: a report is the evaluation service's
    busiest write, thousands of them in a call's evaluation week."""
    h.open_topic(["P-1", "P-2"])
    first, *others = sorted(h.experts_of("P-1"))
    assert reads_by_table(h, lambda: save(h, first, "P-1", scores(GOOD))) == {
        "experts": 1, "proposals": 1, "assignments": 1, "calls": 1, "declarations": 1,
        "topics": 1, "reports": 1}
    *middle, last = others
    for expert_id in middle:
        save(h, expert_id, "P-1", scores(GOOD))
    completing = reads_by_table(h, lambda: save(h, last, "P-1", scores(GOOD)))
    assert h.outbox("evaluation_completed")  # this report completed the proposal
    # the topic once more, locked, where the ranking decides; nothing else twice
    assert completing["topics"] == 2
    assert {table: n for table, n in completing.items() if n > 1 and table != "topics"} == {
        "proposals": 2}  # the second: whether a proposal of the topic still blocks its ranking
    assert (completing["assignments"], completing["reports"], completing["declarations"]) == (
        1, 1, 1)


# ------------------------------------------------------------------ consensus
def test_a_wide_spread_waits_for_an_extra_evaluator(h):
    h.open_topic(["P-1"], experts_=4)
    first, second = sorted(h.experts_of("P-1"))
    save(h, first, "P-1", scores(GOOD))
    save(h, second, "P-1", scores(POOR))
    assert h.outbox("evaluation_completed") == []
    view = views.proposal_evaluation(h.uow(), "P-1")
    assert view["consensus_state"] == "needs_spread_resolution"
    assert view["spread"] == {"value": "37.0", "threshold": "20", "flagged": True}

    code, run = assigning.request_extra_evaluator(h.uow(), h.solver, h.clock, "P-1", OPS.email)
    assert code == 200
    [third] = [pair["expert_id"] for pair in run["assigned"]]
    assert [e["reason"] for e in h.outbox("evaluator_assigned") if e["expert_id"] == third] \
        == ["extra"]
    save(h, third, "P-1", scores(GOOD))
    [completed] = h.outbox("evaluation_completed")
    assert completed["spread_flagged"] is True
    assert completed["scores"]["relevance"] == "23.00"  # (27 + 15 + 27) / 3
    assert completed["total"] == "75.66"  # the sum of the rounded criterion means


def test_a_consensus_note_resolves_a_wide_spread(h):
    h.open_topic(["P-1"])
    first, second = sorted(h.experts_of("P-1"))
    save(h, first, "P-1", scores(GOOD))
    save(h, second, "P-1", scores(POOR))
    code, errors = refusal(evaluators.record_note, h.uow(), h.clock, OPS, "P-1", "ok")
    assert code == 422 and errors[0]["field"] == "note"
    result = evaluators.record_note(h.uow(), h.clock, OPS, "P-1",
                                    "Panel discussed the relevance scores and agreed the mean.")
    assert result["state"] == "complete"
    [completed] = h.outbox("evaluation_completed")
    assert completed["total"] == "69.50" and completed["passed"] is False
    assert completed["failed_thresholds"] == ["overall"]


def test_rapporteur_writes_the_consensus_report(h):
    h.open_topic(["P-1"], consensus_method="rapporteur")
    first, second = sorted(h.experts_of("P-1"))
    h.clock.advance(hours=1)
    save(h, second, "P-1", scores(GOOD))  # finalised first: the rapporteur
    h.clock.advance(hours=1)
    save(h, first, "P-1", scores((25, 17, 12, 12, 16)))
    [designated] = [e for e in h.outbox("evaluator_assigned") if e["reason"] == "rapporteur"]
    assert designated["expert_id"] == second
    assert h.outbox("evaluation_completed") == []

    view = evaluators.my_assignment(h.uow(), evaluator(second), "P-1")
    assert view["rapporteur"] is True
    assert [r["evaluator"] for r in view["individual_reports"]] == ["evaluator 1", "evaluator 2"]
    assert first not in str(view["individual_reports"])
    assert "individual_reports" not in evaluators.my_assignment(h.uow(), evaluator(first), "P-1")
    assert refusal(save, h, first, "P-1", scores(GOOD), "consensus")[0] == 404

    save(h, second, "P-1", scores((26, 17, 13, 12, 16), comment="Agreed by both experts."),
         "consensus")
    [completed] = h.outbox("evaluation_completed")
    assert completed["method"] == "rapporteur" and completed["total"] == "84.00"
    assert set(completed["comments"].values()) == {"Agreed by both experts."}


# ------------------------------------------------------------------ summary reports
def test_summary_is_released_to_the_applicant_at_information_to_applicants(h):
    h.open_topic(["P-1", "P-2"])
    for pid, values in (("P-1", GOOD), ("P-2", POOR)):
        for expert_id in sorted(h.experts_of(pid)):
            save(h, expert_id, pid, scores(values))
    applicant = Principal(contacts("P-1")[0], "applicant")
    stranger = Principal("someone@else.example.eu", "applicant")
    assert views.summary(h.uow(), OPS, "P-1")["outcome"]["status"] == "main_list"
    code, errors = refusal(views.summary, h.uow(), applicant, "P-1")
    assert code == 403 and errors == [{"field": "proposal_id", "rule": "not released yet"}]
    assert refusal(views.summary, h.uow(), stranger, "P-1")[0] == 404

    h.deliver(stage("information_to_applicants", T0 + timedelta(days=150)))
    mine = views.summary(h.uow(), applicant, "P-1")
    assert mine["outcome"] == {"status": "main_list", "rank": 1, "reserve_position": None,
                               "reasons": []}
    assert mine["total"]["score"] == "88.0"
    assert refusal(views.summary, h.uow(), applicant, "P-2")[0] == 404  # not their proposal
    rejected = views.summary(h.uow(), OPS, "P-2")
    assert rejected["outcome"]["status"] == "rejected"
    assert "relevance: 15.0 is below the threshold 21.0" in rejected["outcome"]["reasons"]
    html = views.summary_html(h.uow(), applicant, "P-1")
    assert "ACR-P-1" in html and "Selected for funding" in html
    names = [f"Expert {e.split('-')[1]}" for e in h.experts_of("P-1")]
    assert not any(n in html or evaluator(e) in html for n, e in zip(names, h.experts_of("P-1")))


def test_summary_of_a_proposal_left_unevaluated(h):
    h.open_topic(["P-1"])
    h.deliver(stage("evaluation_end", T0 + timedelta(days=140)),
              stage("information_to_applicants", T0 + timedelta(days=150)))
    summary = views.summary(h.uow(), Principal(contacts("P-1")[0], "applicant"), "P-1")
    assert summary["failed_thresholds"] == ["evaluation_incomplete"]
    assert summary["outcome"]["status"] == "rejected"
    assert "not completed" in views.summary_html(h.uow(), OPS, "P-1")


def test_an_extra_slot_nobody_can_take_stays_open_until_the_pool_grows(h):
    h.open_topic(["P-1"], experts_=2)
    first, second = sorted(h.experts_of("P-1"))
    save(h, first, "P-1", scores(GOOD))
    save(h, second, "P-1", scores(POOR))
    code, body = assigning.request_extra_evaluator(h.uow(), h.solver, h.clock, "P-1", OPS.email)
    assert (code, body["error"]) == (409, "assignment_infeasible")
    assert body["errors"] == [{"field": "proposal:P-1", "rule": "proposal P-1: only 0 "
                               "non-conflicted active experts with free load, needs 1"}]
    h.import_experts([expert_record(3)])
    [outcome] = h.sweep()
    assert outcome.assigned == [("E-3", "P-1")]
    assert [e["reason"] for e in h.outbox("evaluator_assigned") if e["expert_id"] == "E-3"] \
        == ["extra"]
