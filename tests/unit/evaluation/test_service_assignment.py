"""Conflicts of interest, repairs, infeasibility, overrides and the expert pool through the
evaluation handlers (real SQLite unit of work, real solver)."""
import threading
from types import SimpleNamespace

import sqlalchemy as sa

from services.evaluation.adapters import repository as repo
from services.evaluation.domain.conflicts import declare_by_operations
from services.evaluation.handlers import assigning, evaluators, experts, views
from services.evaluation.service import EvaluationService
from tests.support.evaluation_events import (
    CALL_ID, TOPIC, call_published, deadline_closed, expert_record, screened, stage)
from tests.unit.evaluation.handler_support import OPS, evaluator, refusal, scores

FULL = (27, 18, 13, 13, 17)


# ------------------------------------------------------------------ conflicts
def test_an_expert_of_a_consortium_organisation_is_never_assigned(h):
    h.deliver(call_published(), deadline_closed(["P-1", "P-2"]),
              screened("P-1", orgs=("ORG-A", "ORG-B", "ORG-C")),
              screened("P-2", orgs=("ORG-D", "ORG-E", "ORG-F")))
    # E-1 and E-2 work for members of P-1's consortium (case and spaces differ)
    h.import_experts([expert_record(1, org="ORG-A"), expert_record(2, org=" org-c "),
                      *[expert_record(i) for i in range(3, 7)]])
    h.deliver(stage("evaluation_start"))
    h.sweep()
    assert not {"E-1", "E-2"} & h.experts_of("P-1")
    assert len(h.experts_of("P-1")) == 2 and len(h.experts_of("P-2")) == 2


def test_declared_conflict_releases_and_nothing_of_the_proposal_stays_visible(h):
    h.open_topic(["P-1", "P-2"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    email = evaluator(expert_id)
    assert "P-1" in [a["proposal_id"] for a in evaluators.my_assignments(h.uow(), email)]
    draft = scores((3, 3, 3, 3, 3), comment="Conflicted draft: must never count.")
    evaluators.save_report(h.uow(), h.clock, email, "P-1", {**draft, "final": False},
                           "individual")

    result = evaluators.declare_conflict(h.uow(), h.solver, h.clock, email, "P-1",
                                         "my spouse works for the coordinator")
    assert result == {"proposal_id": "P-1", "status": "released", "reason": "conflict_declared"}
    released = [e for e in h.outbox("evaluator_released") if e["expert_id"] == expert_id]
    assert [e["reason"] for e in released] == ["conflict_declared"]
    # replaced at once by someone else, and the pair is never made again
    assert len(h.experts_of("P-1")) == 2 and expert_id not in h.experts_of("P-1")
    assigning.run(h.uow(), h.solver, h.clock, CALL_ID, assigning.REPAIR, None, OPS.email)
    assert expert_id not in h.experts_of("P-1")

    # nothing of P-1 in any of the expert's views, and no way to write on it
    listed = evaluators.my_assignments(h.uow(), email)
    assert all(a["proposal_id"] != "P-1" for a in listed)
    assert "P-1" not in str(listed)
    assert refusal(evaluators.my_assignment, h.uow(), email, "P-1")[0] == 404
    assert refusal(evaluators.save_report, h.uow(), h.clock, email, "P-1", scores(FULL),
                     "individual")[0] == 404
    # the draft written before the declaration does not count towards the consensus
    for other in sorted(h.experts_of("P-1")):
        evaluators.save_report(h.uow(), h.clock, evaluator(other), "P-1", scores(FULL),
                               "individual")
    [completed] = [e for e in h.outbox("evaluation_completed") if e["proposal_id"] == "P-1"]
    assert completed["total"] == "88.00"
    assert "Conflicted draft" not in str(completed["comments"])


def test_the_view_guard_hides_a_conflicted_proposal_even_while_still_assigned(h):
    """Defence in depth: a conflict recorded while the assignment is still active (the
    release not written yet) already hides everything of the proposal."""
    h.open_topic(["P-1"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    email = evaluator(expert_id)
    uow = h.uow()
    with uow:
        repo.save_declaration(uow, declare_by_operations(
            expert_id, "P-1", "found in the audit", operator=OPS.email, now=h.clock.now()))
        uow.commit()
    assert expert_id in h.experts_of("P-1")
    assert evaluators.my_assignments(h.uow(), email) == []
    assert refusal(evaluators.my_assignment, h.uow(), email, "P-1")[0] == 404
    assert refusal(evaluators.save_report, h.uow(), h.clock, email, "P-1", scores(FULL),
                   "individual")[0] == 404


def test_an_edit_that_creates_a_conflict_releases_the_assignment(h):
    h.open_topic(["P-1"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    result = experts.edit(h.uow(), h.solver, h.clock, expert_id, {"organisation_id": "ORG-B"},
                          OPS.email)
    assert result["released"] == ["P-1"] and expert_id not in h.experts_of("P-1")
    assert [e["reason"] for e in h.outbox("evaluator_released")] == ["operations"]
    assert len(h.experts_of("P-1")) == 2


def test_operations_declare_a_conflict_on_any_pair(h):
    h.open_topic(["P-1"])
    assigned = sorted(h.experts_of("P-1"))[0]
    spare = ({f"E-{i}" for i in range(1, 7)} - h.experts_of("P-1")).pop()
    code, body = evaluators.declare_by_ops(h.uow(), h.solver, h.clock, {
        "expert_id": spare, "proposal_id": "P-1", "reason": "co-author of the coordinator"},
        OPS.email)
    assert (code, body["released"]) == (201, False)
    code, body = evaluators.declare_by_ops(h.uow(), h.solver, h.clock, {
        "expert_id": assigned, "proposal_id": "P-1", "reason": "former employee"}, OPS.email)
    assert (code, body["released"]) == (201, True)
    assert not {assigned, spare} & h.experts_of("P-1") and len(h.experts_of("P-1")) == 2
    listed = evaluators.list_declarations(h.uow(), "P-1", None)
    assert {(d["expert_id"], d["source"]) for d in listed} == {(spare, "operations"),
                                                               (assigned, "operations")}


# ------------------------------------------------------------------ repair
def test_decline_refills_only_the_freed_slot(h):
    h.open_topic(["P-1", "P-2", "P-3"])
    before = h.active_pairs()
    leaving = sorted(h.experts_of("P-2"))[0]
    evaluators.decline(h.uow(), h.solver, h.clock, evaluator(leaving), "P-2", "no time")
    after = h.active_pairs()
    assert before - after == {(leaving, "P-2")}
    [(new_expert, pid)] = after - before
    assert pid == "P-2" and new_expert != leaving
    repaired = [e for e in h.outbox("evaluator_assigned") if e["reason"] == "repair"]
    assert [(e["expert_id"], e["proposal_id"]) for e in repaired] == [(new_expert, "P-2")]



def test_a_decline_while_a_solve_runs_leaves_the_slot_to_the_sweeper(h):
    h.open_topic(["P-1", "P-2", "P-3"])
    leaving = sorted(h.experts_of("P-2"))[0]
    answered = threading.Event()

    def decline():
        evaluators.decline(h.uow(), h.solver, h.clock, evaluator(leaving), "P-2", "no time")
        answered.set()

    with h.solver.lock:  # another request's repair, or the sweeper, is solving
        worker = threading.Thread(target=decline, daemon=True)
        worker.start()
        worker.join(30)
        assert answered.is_set(), "the decline waited for the running solve"
        assert len(h.experts_of("P-2")) == 1  # nothing refilled yet
    worker.join(30)
    [outcome] = h.sweep()
    assert outcome.kind == assigning.REPAIR and len(outcome.assigned) == 1
    assert len(h.experts_of("P-2")) == 2 and leaving not in h.experts_of("P-2")

def test_a_final_report_cannot_be_declined(h):
    h.open_topic(["P-1"])
    expert_id = sorted(h.experts_of("P-1"))[0]
    evaluators.save_report(h.uow(), h.clock, evaluator(expert_id), "P-1", scores(FULL),
                           "individual")
    code, errors = refusal(evaluators.decline, h.uow(), h.solver, h.clock,
                             evaluator(expert_id), "P-1", "")
    assert code == 409 and errors == [{"field": "proposal_id", "rule": "report final"}]


def test_infeasible_first_assignment_names_the_binding_constraint_and_waits(h):
    h.deliver(call_published(), deadline_closed(["P-1", "P-2", "P-3"]),
              *[screened(p) for p in ("P-1", "P-2", "P-3")])
    h.import_experts([expert_record(i, max_load=2) for i in range(1, 3)])  # 4 of 6 needed
    h.deliver(stage("evaluation_start"))
    [outcome] = h.sweep()
    assert outcome.status == "infeasible" and h.active_pairs() == set()
    [line] = outcome.failed[TOPIC]
    assert line == (f"topic {TOPIC}: 3 proposals need 6 evaluations, only 4 available "
                    "from non-conflicted experts")
    [topic] = [t for t in views.call_topics(h.uow(), CALL_ID) if t["topic_id"] == TOPIC]
    assert topic["assignment_status"] == "infeasible"
    assert topic["assignment_diagnosis"] == [line]
    assert h.sweep() == []  # nothing changed: not tried again
    h.import_experts([expert_record(3, max_load=2)])
    [outcome] = h.sweep()
    assert outcome.status == "optimal" and len(h.active_pairs()) == 6


def test_a_sweep_that_meets_a_running_solve_reports_it_deferred_as_work(h):
    # a replay's clock tick meeting the timer's pass must not read as "nothing to do"
    h.deliver(call_published(), deadline_closed(["P-1"]), screened("P-1"))
    h.import_experts([expert_record(i) for i in range(1, 4)])
    h.deliver(stage("evaluation_start"))
    with h.solver.lock:
        [outcome] = h.sweep()
    assert (outcome.status, outcome.did_work) == ("deferred", True)
    assert h.active_pairs() == set()  # nothing solved meanwhile: the running pass does it
    [outcome] = h.sweep()
    assert outcome.status == "optimal" and len(h.active_pairs()) == 2  # the call's k


def test_a_hopeless_topic_does_not_hold_up_the_others(h):
    other = "AMIF-2018-AG-INTE-2"
    h.deliver(call_published(), deadline_closed(["P-1"]), deadline_closed(["Q-1"], topic=other),
              screened("P-1"), screened("Q-1", topic=other, orgs=("ORG-X1", "ORG-X2", "ORG-Q")))
    h.import_experts([expert_record(1), expert_record(2), expert_record(3)])
    h.deliver(stage("evaluation_start"))
    [outcome] = h.sweep()
    # E-1 and E-2 are conflicted on Q-1: one expert left for two slots
    assert set(outcome.failed) == {other}
    assert "proposal Q-1: only 1 non-conflicted active expert with free load, needs 2" in \
        outcome.failed[other][0]
    assert len(h.experts_of("P-1")) == 2 and h.experts_of("Q-1") == set()


def test_repair_with_nobody_left_is_recorded_and_retried_when_the_pool_grows(h):
    h.open_topic(["P-1"], experts_=2)
    leaving = sorted(h.experts_of("P-1"))[0]
    evaluators.decline(h.uow(), h.solver, h.clock, evaluator(leaving), "P-1", "")
    assert len(h.experts_of("P-1")) == 1
    [topic] = [t for t in views.call_topics(h.uow(), CALL_ID) if t["topic_id"] == TOPIC]
    [short] = topic["short_of_evaluators"]
    assert short["proposal_id"] == "P-1" and "only 0 non-conflicted" in short["diagnosis"][0]
    assert h.sweep() == []
    h.import_experts([expert_record(9)])
    [outcome] = h.sweep()
    assert outcome.assigned == [("E-9", "P-1")]


def test_the_repair_list_holds_only_proposals_the_repair_plan_takes(h):
    # an eligible flag without a screening (no event sets one, but the list and the plan
    # must agree): the plan drops it, so the list must not offer it at every tick
    h.open_topic(["P-1", "P-2"], experts_=2)
    leaving = sorted(h.experts_of("P-1"))[0]
    with h.factory.engine.begin() as conn:
        conn.execute(sa.text("UPDATE assignments SET status = 'released' "
                             "WHERE proposal_id = 'P-1' AND expert_id = :e"), {"e": leaving})
        conn.execute(sa.text("UPDATE proposals SET screened = :no, repair_attempt_revision "
                             "= NULL WHERE proposal_id = 'P-1'"), {"no": False})
    uow = h.uow()
    with uow:
        assert repo.short_proposals(uow, CALL_ID, -1, 2) == []
    assert h.sweep() == []


def test_the_repair_list_holds_every_proposal_with_fewer_active_evaluators_than_needed(h):
    """Short: one evaluator released, every one released (no active row at all), or a
    target above k; not short: as many active as needed. The database counts and
    compares (the sweeper asks every second)."""
    h.open_topic(["P-1", "P-2", "P-3", "P-4"], experts_=8)
    leaving = sorted(h.experts_of("P-1"))[0]
    with h.factory.engine.begin() as conn:
        conn.execute(sa.text("UPDATE assignments SET status = 'released' WHERE proposal_id "
                             "= 'P-4' OR (proposal_id = 'P-1' AND expert_id = :e)"),
                     {"e": leaving})
        conn.execute(sa.text("UPDATE proposals SET target_evaluators = 3 "
                             "WHERE proposal_id = 'P-3'"))
        conn.execute(sa.text("UPDATE proposals SET target_evaluators = 0 "
                             "WHERE proposal_id = 'P-2'"))  # none: k applies
    uow = h.uow()
    with uow:
        assert repo.short_proposals(uow, CALL_ID, -1, 2) == ["P-1", "P-3", "P-4"]


def test_a_tick_whose_runs_found_nothing_to_do_reports_no_work(h, monkeypatch):
    h.open_topic(["P-1"], experts_=2)
    # the due list was read just before a refill completed P-1's evaluators
    monkeypatch.setattr(assigning, "_due_work",
                        lambda uow: [(CALL_ID, assigning.REPAIR, ["P-1"])])
    service = SimpleNamespace(uow=h.uow(), solver=h.solver, clock=h.clock)
    assert [o.status for o in assigning.sweep(h.uow(), h.solver, h.clock)] == ["nothing_to_do"]
    assert EvaluationService.on_clock_tick(service) == 0
    leaving = sorted(h.experts_of("P-1"))[0]
    evaluators.decline(h.uow(), h.solver, h.clock, evaluator(leaving), "P-1", "")
    h.import_experts([expert_record(9)])  # the pool changed: the repair runs and assigns
    assert EvaluationService.on_clock_tick(service) == 1


def test_deactivation_releases_unfinished_assignments_only(h):
    h.open_topic(["P-1", "P-2"], experts_=2)  # both experts on both proposals
    assert h.experts_of("P-1") == h.experts_of("P-2") == {"E-1", "E-2"}
    h.import_experts([expert_record(3)])
    evaluators.save_report(h.uow(), h.clock, evaluator("E-1"), "P-1", scores(FULL),
                           "individual")
    result = experts.set_active(h.uow(), h.solver, h.clock, "E-1", False, OPS.email)
    assert result["active"] is False and result["released"] == ["P-2"]
    assert h.experts_of("P-1") == {"E-1", "E-2"}  # the final report stands
    assert h.experts_of("P-2") == {"E-2", "E-3"}  # refilled at once
    assert [(e["proposal_id"], e["reason"]) for e in h.outbox("evaluator_released")] == [
        ("P-2", "deactivated")]
    assert h.sweep() == []


def test_override_keeps_the_hard_rules(h):
    h.open_topic(["P-1"], experts_=4)
    h.import_experts([expert_record(7, org="ORG-A")])  # conflicted with P-1
    current = sorted(h.experts_of("P-1"))
    spare = sorted({"E-1", "E-2", "E-3", "E-4"} - set(current))[0]
    code, errors = refusal(assigning.override, h.uow(), h.solver, h.clock, "P-1",
                             {"release": [current[0]], "assign": ["E-7", "E-99"],
                              "reason": "better fit"}, OPS.email)
    assert code == 422
    fields = {e["field"]: e["rule"] for e in errors}
    assert "conflict of interest" in fields["assign[0]"]
    assert fields["assign[1]"] == "unknown expert E-99"
    assert "would give 3 evaluators" in fields["assign"]
    assert h.experts_of("P-1") == set(current)  # nothing half-done

    result = assigning.override(h.uow(), h.solver, h.clock, "P-1", {
        "release": [current[0]], "assign": [spare], "reason": "language skills"}, OPS.email)
    assert result["released"] == [current[0]] and result["assigned"] == [spare]
    assert h.experts_of("P-1") == {current[1], spare}
    released = h.rows("SELECT release_reason, note FROM assignments WHERE expert_id = :e",
                      e=current[0])
    assert released == [("operations", "language skills")]


def test_extra_evaluator_only_when_the_spread_is_flagged(h):
    h.open_topic(["P-1"], experts_=4)
    code, _ = refusal(assigning.request_extra_evaluator, h.uow(), h.solver, h.clock,
                        "P-1", OPS.email)
    assert code == 409


# ------------------------------------------------------------------ the pool
def test_import_reports_every_problem_and_imports_nothing(h):
    bad = [expert_record(1), {**expert_record(2), "max_load": 0},
           {**expert_record(3), "email": "expert1@pool.example.org"}]
    code, errors = refusal(h.import_experts, bad)
    assert code == 422
    assert [(e["row"], e["field"]) for e in errors] == [(2, "max_load"), (3, "email")]
    assert errors[0]["rule"] == "must be an integer >= 1"
    assert experts.list_experts(h.uow()) == []


def test_csv_import_then_edit_and_reimport_update_by_email(h):
    csv = ("id,name,email,country,organisation_id,expertise_areas,keywords,max_load\n"
           "E-1,Ann,ANN@pool.example.org,be,ORG-1,housing;labour_market,housing,3\n")
    parsed = experts.parse_import("text/csv", csv, None)
    assert experts.import_experts(h.uow(), h.solver, h.clock, parsed, OPS.email)["added"] == ["E-1"]
    experts.edit(h.uow(), h.solver, h.clock, "E-1", {"max_load": 5}, OPS.email)
    again = experts.import_experts(h.uow(), h.solver, h.clock,
                                   experts.parse_import("text/csv", csv, None), OPS.email)
    assert again["updated"] == [{"id": "E-1", "fields": ["max_load"]}]
    [listed] = experts.list_experts(h.uow())
    assert (listed["email"], listed["country"], listed["max_load"], listed["load"]) == (
        "ann@pool.example.org", "BE", 3, 0)
    code, errors = refusal(experts.edit, h.uow(), h.solver, h.clock, "E-1",
                             {"max_load": "many", "id": "E-2"}, OPS.email)
    assert code == 422 and {e["field"] for e in errors} == {"max_load", "id"}


def test_evaluator_without_an_expert_record_gets_404(h):
    assert refusal(evaluators.my_assignments, h.uow(), "stranger@example.org")[0] == 404


def test_loads_per_expert_and_topic(h):
    h.open_topic(["P-1", "P-2"], experts_=4)
    loads = {l["expert_id"]: l for l in views.loads(h.uow())}
    assert sum(l["load"] for l in loads.values()) == 4
    assert all(l["load"] <= l["max_load"] for l in loads.values())
    assert {t for l in loads.values() for t in l["by_topic"]} == {TOPIC}


def test_operations_view_of_a_proposal(h):
    h.open_topic(["P-1"])
    view = views.proposal_evaluation(h.uow(), "P-1")
    assert view["consensus_state"] == "waiting_for_reports"
    assert sorted(view["missing_reports"]) == sorted(h.experts_of("P-1"))


def test_every_conflict_rule_evaluation_knows_can_be_named_in_a_call():
    from services.evaluation.domain.conflicts import CONFLICT_RULES
    from shared.calls import rules
    assert set(CONFLICT_RULES) == set(rules.CONFLICT_RULES)


def test_an_amended_call_with_a_new_conflict_rule_releases_what_it_forbids(h):
    h.open_topic(["P-1"], experts_=4)
    french = sorted(h.experts_of("P-1"))[0]  # the coordinator in the snapshots is French
    experts.edit(h.uow(), h.solver, h.clock, french, {"country": "FR"}, OPS.email)
    assert french in h.experts_of("P-1")  # no rule looks at countries yet
    h.deliver(call_published(version=2, conflict_rules=["same_organisation",
                                                        "same_country_as_coordinator"]))
    assert french not in h.experts_of("P-1")
    assert [(e["expert_id"], e["reason"]) for e in h.outbox("evaluator_released")] == [
        (french, "operations")]
    [outcome] = h.sweep()
    assert outcome.kind == "repair" and len(h.experts_of("P-1")) == 2
