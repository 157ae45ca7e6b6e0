"""Issue 10, finding 5: look-alike organisation ids must not evade the conflict rules.

Matching was ``strip().casefold()``: a zero-width joiner, a non-breaking hyphen or
fullwidth letters made an expert of the applicant's own organisation eligible to evaluate
it. Ids are now compared by one key (``shared.identifiers.organisation_key``), and the
APIs that take them refuse anything outside a documented character set."""
from __future__ import annotations

import pytest

from shared.identifiers import organisation_id_problem, organisation_key

LYON = "FR-LYON"
LOOKALIKES = {
    "P-1": "FR\u2011LYON",  # non-breaking hyphen
    "P-2": "FR-LY\u200dON",  # zero-width joiner
    "P-3": "\uff26\uff32\uff0d\uff2c\uff39\uff2f\uff2e",  # fullwidth letters and hyphen
}


@pytest.mark.parametrize("lookalike", [*LOOKALIKES.values(), "fr\u2013lyon", "FR-\u00adLYON",
                                       " FR-\ufeffLYON ", "FR\u2212LYON"])
def test_every_lookalike_has_the_same_key(lookalike):
    assert organisation_key(lookalike) == organisation_key(LYON) == "fr-lyon"
    assert organisation_id_problem(lookalike) is not None  # and the APIs refuse it


def test_the_character_set_keeps_real_ids():
    for good in ("FR-LYON", "PIC-9000001", "BE-0207.451.227", "DK/29189854", "ORG GHENT"):
        assert organisation_id_problem(good) is None, good
    for bad in ("", "-LYON", "FR  LYON", "FR-LYON ", "x" * 101, "FR\x00LYON"):
        assert organisation_id_problem(bad) is not None, bad


def test_the_conflict_rule_catches_lookalikes():
    from services.evaluation.domain.conflicts import Consortium, Participant, conflict_pairs
    from tests.unit.evaluation.test_conflicts import RULES, expert
    lyon = expert(org=LYON, id="E-LYON")
    consortia = [Consortium(pid, (Participant(org, "FR", "coordinator"),))
                 for pid, org in LOOKALIKES.items()]
    assert conflict_pairs([lyon], consortia, RULES) == {
        ("E-LYON", pid) for pid in LOOKALIKES}


@pytest.mark.integration
@pytest.mark.e2e
def test_lookalike_ids_are_refused_and_never_let_an_expert_evaluate_their_own_organisation(
        stack):
    from tests.support.evaluation_events import (CALL_ID, TOPIC, call_published,
                                                 deadline_closed, expert_record, publish,
                                                 screened, stage)
    from tests.support.infra import eventually, stays
    from tests.support.submission_data import participant, proposal_body
    from tests.support.submission_events import EventTap

    tap = EventTap(stack.vhost.amqp_uri, producer="evaluation", name="coi-tap").declare()
    stack.start("submission", "evaluation")
    evaluation = stack.api("evaluation")

    # the APIs refuse look-alikes, naming the field and the rule
    applicant = stack.api("submission", "applicant", "ghent@example.eu")
    sneaky = participant("Lyon", "FR", org=LOOKALIKES["P-3"])
    refused = applicant.post("/proposals", json=proposal_body(co_applicants=[sneaky]))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["co_applicants[0].organisation_id"]
    assert "ASCII letters and digits" in refused.json()["errors"][0]["rule"]
    refused = evaluation.post("/experts/import", json={"experts": [
        expert_record(9, org=LOOKALIKES["P-2"])]})
    assert refused.status_code == 422, refused.text
    assert "organisation_id" in refused.text and "ASCII letters and digits" in refused.text

    # ids from before the rule (or from another producer) still reach evaluation: they
    # compare by their key. Two experts for k = 2, one of them from Lyon: the Lyon expert
    # may take none of the three, so the first assignment cannot be made ...
    publish(stack.vhost.amqp_uri, call_published(),
            deadline_closed(list(LOOKALIKES)),
            *[screened(pid, orgs=(org, "ORG-B", "ORG-C")) for pid, org in LOOKALIKES.items()],
            stage("evaluation_start"))
    imported = evaluation.post("/experts/import", json={"experts": [
        expert_record(1, max_load=3), expert_record(9, org=LYON.lower(), max_load=3)]})
    assert imported.status_code == 200, imported.text
    def topic_ready():
        topics = evaluation.get(f"/calls/{CALL_ID}/topics")
        return topics.status_code == 200 and any(
            t["topic_id"] == TOPIC and t["closed_at"] and t["evaluated"] == 3
            and not t["awaiting_screening"]
            for t in topics.json())
    eventually(topic_ready, message="the topic closed and its three proposals screened")
    run = evaluation.post(f"/calls/{CALL_ID}/assignment", json={"topics": [TOPIC]})
    assert (run.status_code, run.json().get("error")) == (409, "assignment_infeasible"), run.text
    assert run.json()["errors"] == [
        {"field": f"topic:{TOPIC}",
         "rule": f"proposal {pid}: only 1 non-conflicted active expert with free load, "
                 "needs 2"} for pid in sorted(LOOKALIKES)]

    # ... and with a third expert it is made without them
    assert evaluation.post("/experts/import", json={"experts": [
        expert_record(2, max_load=3)]}).status_code == 200
    assigned = tap.wait_for(lambda t: len(t.events("evaluator_assigned")) == 6
                            and t.events("evaluator_assigned"), timeout=60,
                            message="two evaluators per proposal")
    assert {e["expert_id"] for e in assigned} == {"E-1", "E-2"}
    stays(lambda: "E-9" not in {e["expert_id"] for e in tap.events("evaluator_assigned")},
          message="the Lyon expert is never assigned")
