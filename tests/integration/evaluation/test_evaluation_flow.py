"""The evaluation service as a real process with submission and operations, on PostgreSQL
and RabbitMQ: from proposals submitted over HTTP, through the deadline's manifest and
screening on the broker, the optimal assignment (in its child process) with a conflicted
expert never assigned, a declared conflict repaired, reports over HTTP with every error
rule, to ranking_published and the summary report released at information to applicants.
The CLI is exercised against the same services. A second test drives the consumer
alone with events published straight to the broker."""
import io
import os
import subprocess
import sys
from datetime import datetime, timezone

import pypdf
import pytest
import requests

from tests.support.evaluation_events import (
    call_published, deadline_closed, expert_record, publish, screened, stage, withdrawn)
from tests.support.infra import eventually, stays
from tests.support.submission_data import CALL_ID, TOPIC_1, call_yaml, participant, proposal_body
from tests.support.submission_events import EventTap

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

UTC = timezone.utc
EVALUATION_STARTED = datetime(2019, 2, 1, 0, 30, tzinfo=UTC)
INFORMED = datetime(2019, 7, 1, 9, 0, tzinfo=UTC)  # 11:00 Brussels: after 10:00
EXPERTS_CSV = (
    "id,name,email,country,organisation_id,expertise_areas,keywords,max_load,languages\n"
    + "".join(f"E-{i},Expert {i},expert{i}@pool.example.org,BE,ORG-POOL-{i},"
              f"housing;labour_market,housing;integration;cities,3,en;fr\n" for i in range(1, 5))
    # works for Lyon, a member of every consortium below: never to be assigned
    + "E-5,Expert Five,expert5@pool.example.org,FR,org-lyon,housing;labour_market,housing,3,fr\n")
SCORES = {"GOOD": (27, 18, 13, 13, 17), "FAIR": (24, 15, 12, 12, 15),
          "WEAK_RELEVANCE": (18, 19, 14, 14, 19)}
CRITERIA = ("relevance", "quality", "cost_effectiveness", "european_added_value",
            "results_impact")


def report(values, final=True) -> dict:
    return {"criteria": {c: {"score": v, "comment": "Clear objectives and a credible plan."}
                         for c, v in zip(CRITERIA, values)}, "final": final}


def grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_EVALUATION_URL": stack.url("evaluation")}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_from_submission_to_ranking_published_through_the_broker(stack, tmp_path):
    tap = EventTap(stack.vhost.amqp_uri, producer="evaluation", name="eval-tap").declare()
    stack.start("submission", "evaluation", "operations")
    submission, evaluation = stack.api("submission"), stack.api("evaluation")

    # ------------------------------------------------------------ proposals, submitted
    assert submission.post("/calls", data=call_yaml().encode()).status_code in (200, 201)
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    ids = {}
    for acronym in ("GOOD", "FAIR", "WEAK_RELEVANCE"):
        created = ghent.post("/proposals", json=proposal_body(acronym=acronym[:10]))
        assert created.status_code == 201, created.text
        ids[acronym] = created.json()["id"]
    danish = ghent.post("/proposals", json=proposal_body(
        participant("Ghent", "BE", experienced=True),
        [participant("Lyon", "FR"), participant("Aarhus", "DK")], acronym="NORDIC")).json()["id"]
    for proposal_id in (*ids.values(), danish):
        assert ghent.post(f"/proposals/{proposal_id}/submit").status_code == 200

    # ------------------------------------------------------------ the expert pool
    bad = tmp_path / "bad.csv"
    bad.write_text(EXPERTS_CSV.replace(",3,en;fr\n", ",none,en;fr\n", 1))
    refused = grantflow(stack, "experts", "import", str(bad))
    assert refused.returncode == 2 and "max_load: must be an integer >= 1" in refused.stderr
    imported = requests.post(f"{evaluation.base_url}/experts/import", timeout=60,
                             data=EXPERTS_CSV.encode(),
                             headers={**evaluation.headers, "Content-Type": "text/csv"})
    assert imported.status_code == 200, imported.text
    assert len(imported.json()["added"]) == 5

    # ------------------------------------------------------------ deadline, screening, start
    stack.clock.set(EVALUATION_STARTED)
    assert submission.post("/timetable/tick").status_code == 200
    assigned = tap.wait_for(lambda t: len(t.events("evaluator_assigned")) >= 6
                            and t.events("evaluator_assigned"), timeout=90,
                            message="two evaluators for each eligible proposal")
    pairs = {(e["expert_id"], e["proposal_id"]) for e in assigned}
    assert {p for _, p in pairs} == set(ids.values())  # not the ineligible Danish one
    assert all(sum(1 for _, p in pairs if p == pid) == 2 for pid in ids.values())
    assert "E-5" not in {e for e, _ in pairs}
    [topic] = [t for t in evaluation.get(f"/calls/{CALL_ID}/topics").json()
               if t["topic_id"] == TOPIC_1]
    assert topic["assignment_status"] == "assigned" and topic["evaluated"] == 3

    # ------------------------------------------------------------ a declared conflict
    good = ids["GOOD"]
    leaving = sorted(e for e, p in pairs if p == good)[0]
    leaver = stack.api("evaluation", "evaluator", f"expert{leaving[2:]}@pool.example.org")
    declared = leaver.post(f"/me/assignments/{good}/conflict",
                           json={"reason": "I advised the coordinator last year"})
    assert declared.status_code == 200, declared.text
    tap.wait_for(lambda t: [e for e in t.events("evaluator_assigned")
                            if e["reason"] == "repair" and e["proposal_id"] == good],
                 message="the freed slot refilled")
    [released] = tap.events("evaluator_released")
    assert (released["expert_id"], released["reason"]) == (leaving, "conflict_declared")
    assert good not in str(leaver.get("/me/assignments").json())
    assert leaver.get(f"/me/assignments/{good}").status_code == 404

    # ------------------------------------------------------------ reports, with the error rules
    current = {(a["expert_id"], a["proposal_id"])
               for a in evaluation.get("/assignments", params={"topic_id": TOPIC_1}).json()}
    assert (leaving, good) not in current and len(current) == 6
    some_expert, some_proposal = sorted(current)[0]
    writer = stack.api("evaluation", "evaluator", f"expert{some_expert[2:]}@pool.example.org")
    too_high = writer.put(f"/me/assignments/{some_proposal}/report", json=report((31, 1, 1, 1, 1)))
    assert too_high.status_code == 422
    assert {"field": "criteria.relevance.score", "rule": "31 is above the maximum 30"} in \
        too_high.json()["errors"]
    assert writer.put(f"/me/assignments/{some_proposal}/report", data="{oops").status_code == 400
    assert writer.put(f"/me/assignments/{some_proposal}/report",
                      json={"final": "maybe"}).status_code == 422
    assert requests.get(f"{stack.url('evaluation')}/me/assignments", timeout=10).status_code == 401
    assert stack.api("evaluation", "applicant", "ghent@example.eu").get(
        "/me/assignments").status_code == 403
    acronym_of = {pid: name for name, pid in ids.items()}
    for expert_id, proposal_id in sorted(current):
        api = stack.api("evaluation", "evaluator", f"expert{expert_id[2:]}@pool.example.org")
        saved = api.put(f"/me/assignments/{proposal_id}/report",
                        json=report(SCORES[acronym_of[proposal_id]]))
        assert saved.status_code == 200, saved.text
    locked = writer.put(f"/me/assignments/{some_proposal}/report", json=report(SCORES["GOOD"]))
    assert locked.status_code == 409

    # ------------------------------------------------------------ ranking_published
    [ranking] = tap.wait_for(lambda t: [e for e in t.events("ranking_published")
                                        if e["topic_id"] == TOPIC_1], timeout=60,
                             message="ranking_published")
    # the topics nobody applied to were ranked (empty) when the evaluation started
    empty = {e["topic_id"] for e in tap.events("ranking_published") if not e["main"]}
    assert empty == {f"{CALL_ID}-{n}" for n in range(2, 6)}
    assert [e["proposal_id"] for e in ranking["main"]] == [ids["GOOD"], ids["FAIR"]]
    assert [e["grant_amount"] for e in ranking["main"]] == ["800000.00", "800000.00"]
    assert [(e["proposal_id"], e["failed_thresholds"]) for e in ranking["rejected"]] == [
        (ids["WEAK_RELEVANCE"], ["relevance"])]
    completed = {e["proposal_id"]: e for e in tap.events("evaluation_completed")}
    assert completed[good]["total"] == "88.00" and completed[good]["passed"] is True
    assert evaluation.get(f"/calls/{CALL_ID}/topics/{TOPIC_1}/ranking").json()["event_id"] \
        == ranking["event_id"]
    timeline = eventually(lambda: (lambda t: "evaluation_completed" in t and t)(
        [e["event_type"] for e in stack.api("operations").get(
            f"/proposals/{good}/timeline").json()]), message="operations saw the evaluation")
    assert {"proposal_screened", "evaluator_assigned", "evaluator_released"} <= set(timeline)
    loads = grantflow(stack, "assignments", "loads")
    assert loads.returncode == 0 and "E-5" in loads.stdout

    # ------------------------------------------------------------ summary for the applicant
    assert ghent.base_url != evaluation.base_url
    applicant = stack.api("evaluation", "applicant", "ghent@example.eu")
    assert applicant.get(f"/proposals/{good}/summary").status_code == 403
    stack.clock.set(INFORMED)
    assert submission.post("/timetable/tick").status_code == 200
    summary = eventually(lambda: (lambda r: r.status_code == 200 and r.json())(
        applicant.get(f"/proposals/{good}/summary")), message="summary released")
    assert summary["outcome"]["status"] == "main_list" and summary["total"]["score"] == "88.0"
    html = applicant.get(f"/proposals/{good}/summary.html")
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert "Selected for funding" in html.text and "Expert" not in html.text
    pdf = applicant.get(f"/proposals/{good}/summary.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Evaluation Summary Report" in text and "Selected for funding" in text
    stranger = stack.api("evaluation", "applicant", "someone@else.example.eu")
    assert stranger.get(f"/proposals/{good}/summary").status_code == 404


def test_consumer_alone_tolerates_disorder_a_crashing_solver_and_a_short_pool(stack):
    """Submission's events published straight to the broker, in the worst order; the
    first solve is made to abort (SIGABRT in the solver's process) and must cost nothing
    but an error result; with no experts the run names what binds; importing experts
    lets the timer assign; a withdrawal releases its evaluators once, however often
    it is delivered."""
    uri = stack.vhost.amqp_uri
    tap = EventTap(uri, producer="evaluation", name="eval-tap-alone").declare()
    stack.overrides["evaluation"] = {"ASSIGNMENT_SOLVER": {
        "command": [sys.executable, "-c", "import os; os.abort()"]}}
    stack.start("evaluation")
    evaluation = stack.api("evaluation")
    publish(uri, stage("evaluation_start"), screened("P-2"), screened("P-3", eligible=False),
            call_published(), deadline_closed(["P-1", "P-2", "P-3"]), screened("P-1"))

    def topic_one():
        topics = evaluation.get(f"/calls/{CALL_ID}/topics")
        return topics.status_code == 200 and next(
            t for t in topics.json() if t["topic_id"] == TOPIC_1)

    crashed = eventually(lambda: (lambda t: t and t["assignment_status"] == "error" and t)(
        topic_one()), message="the aborted solve recorded as an error")
    assert "killed by SIGABRT" in crashed["assignment_diagnosis"][0]
    assert crashed["evaluated"] == 2  # P-3 was screened ineligible
    assert requests.get(f"{stack.url('evaluation')}/health", timeout=10).status_code == 200

    stack.overrides.pop("evaluation")
    stack.restart("evaluation")
    run = evaluation.post(f"/calls/{CALL_ID}/assignment", json={"topics": [TOPIC_1]})
    assert (run.status_code, run.json()["error"]) == (409, "assignment_infeasible")
    assert run.json()["errors"] == [
        {"field": f"topic:{TOPIC_1}",
         "rule": f"proposal {p}: only 0 non-conflicted active experts with free load, needs 2"}
        for p in ("P-1", "P-2")]
    assert run.json()["run"]["status"] == "infeasible"

    imported = evaluation.post("/experts/import", json={"experts": [
        expert_record(i, max_load=2) for i in range(1, 4)]})
    assert imported.status_code == 200, imported.text
    assigned = tap.wait_for(lambda t: len(t.events("evaluator_assigned")) == 4
                            and t.events("evaluator_assigned"), message="assigned by the timer")
    on_p2 = {e["expert_id"] for e in assigned if e["proposal_id"] == "P-2"}
    assert len(on_p2) == 2

    gone = withdrawn("P-2")
    publish(uri, gone, gone)
    released = tap.wait_for(lambda t: len(t.events("evaluator_released")) == 2
                            and t.events("evaluator_released"), message="released")
    assert {(e["expert_id"], e["reason"]) for e in released} == {
        (e, "proposal_withdrawn") for e in on_p2}
    stays(lambda: len(tap.events("evaluator_released")) == 2
          and len(tap.events("evaluator_assigned")) == 4, message="no second effect")
