"""The evaluators' pages over HTTP (no browser) on the real submission, evaluation and
notifications services: sign-in only for experts (the page never says who is one), what
a conflicted expert and a stranger cannot see, the scoring form's refusals at their
fields, finalisation after a confirmation, and the rapporteur's consensus form with the
other reports unnamed."""
from datetime import datetime, timezone

import pytest

from tests.support.infra import eventually, stays
from tests.support.pages_client import Visitor, sign_in, sign_in_links, wait_for_link
from tests.support.submission_data import call_yaml, participant, proposal_body

pytestmark = pytest.mark.integration

EVALUATION_STARTED = datetime(2019, 2, 1, 0, 30, tzinfo=timezone.utc)
CRITERIA = ("relevance", "quality", "cost_effectiveness", "european_added_value",
            "results_impact")
EXPERTS = {"experts": [
    {"id": f"E{n}", "name": name, "email": f"{name.lower()}@experts.example", "country": "PT",
     "organisation_id": org, "expertise_areas": ["housing"], "keywords": ["cities"],
     "max_load": 2, "languages": ["en"]}
    for n, name, org in ((1, "Ana", "X-1"), (2, "Ben", "X-2"),
                         (3, "Cleo", "ORG-GHENT"))]}  # Cleo works for the coordinator


def rapporteur_call() -> str:
    return call_yaml().replace("consensus_method: mean", "consensus_method: rapporteur")


def signed_in(stack, email: str) -> Visitor:
    base = stack.url("evaluation")
    person = Visitor()
    person.get(f"{base}/review/sign-in")
    person.post(f"{base}/review/sign-in", {"email": email})
    sign_in(person, wait_for_link(stack.smtp, email))
    return person


def report_form(values: dict, action: str = "save") -> dict:
    form = {"action": action}
    for criterion, (score, comment) in values.items():
        form[f"criteria.{criterion}.score"] = score
        form[f"criteria.{criterion}.comment"] = comment
    return form


def test_evaluators_see_only_their_own_and_the_rapporteur_writes_the_consensus(stack):
    stack.start("submission", "evaluation", "notifications")
    submission, evaluation = stack.api("submission"), stack.api("evaluation")
    assert submission.post("/calls", data=rapporteur_call().encode()).status_code == 201
    assert evaluation.post("/experts/import", json=EXPERTS).status_code == 200
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    proposal = ghent.post("/proposals", json=proposal_body(
        participant("Ghent", "BE", experienced=True, email="ghent@example.eu",
                    org="ORG-GHENT"))).json()["id"]
    assert ghent.post(f"/proposals/{proposal}/submit").status_code == 200
    stack.clock.set(EVALUATION_STARTED)
    assert submission.post("/timetable/tick").status_code == 200
    eventually(lambda: {a["expert_id"] for a in evaluation.get("/assignments").json()}
               == {"E1", "E2"}, message="Ana and Ben assigned (Cleo is conflicted)")
    base, parts = stack.url("evaluation"), f"{stack.url('submission')}/review/parts/{proposal}"

    # a stranger asks for a link: the same page, and no mail
    stranger = Visitor()
    stranger.get(f"{base}/review/sign-in")
    asked = stranger.post(f"{base}/review/sign-in", {"email": "nobody@experts.example"})
    assert "Check your mail" in asked.text
    stays(lambda: sign_in_links(stack.smtp, "nobody@experts.example") == [], duration=1.5)

    # Cleo (conflicted by organisation) signs in and sees nothing of the proposal
    cleo = signed_in(stack, "cleo@experts.example")
    assert "Nothing is assigned to you" in cleo.get(f"{base}/review/").text
    assert cleo.get(f"{base}/review/assignments/{proposal}").status_code == 404
    assert cleo.get(f"{parts}/part_a").status_code == 404
    assert cleo.get(f"{base}/review/assignments/{proposal}/report").status_code == 404

    # Ana: the proposal, its parts, nobody else named
    ana = signed_in(stack, "ana@experts.example")
    page = ana.get(f"{base}/review/assignments/{proposal}")
    assert page.status_code == 200 and "Cities learn together." in page.text
    assert "Ben" not in ana.text() and "ben@" not in page.text
    assert eventually(lambda: ana.get(f"{parts}/part_a").content == b"%PDF-1.4 part_a",
                      message="submission heard of the assignment")
    assert ana.get(f"{base}/review/assignments/{proposal}/consensus").status_code == 404

    # the form refuses what the API refuses, each error at its field
    ana.get(f"{base}/review/assignments/{proposal}/report")
    refused = ana.post(f"{base}/review/assignments/{proposal}/report", report_form(
        {"relevance": ("31", "Too generous."), "quality": ("12.3", "")}))
    assert refused.status_code == 422
    assert "31 is above the maximum 30" in refused.text
    assert "12.3 is not a multiple of 0.5" in refused.text
    assert 'id="f-criteria-relevance-score"' in refused.text and 'aria-invalid="true"' in refused.text
    draft = {c: ("14", "Short") for c in CRITERIA}
    saved = ana.post(f"{base}/review/assignments/{proposal}/report", report_form(draft))
    assert "Your draft is saved." in saved.text
    confirm = ana.post(f"{base}/review/assignments/{proposal}/report",
                       report_form(draft, "finalise"))
    assert "Finalise your report" in confirm.text  # asks first
    incomplete = ana.post(f"{base}/review/assignments/{proposal}/report/finalise")
    assert incomplete.status_code == 422
    assert "must be at least 10 characters (has 5)" in incomplete.text
    good = {c: ("14", "A credible work plan.") for c in CRITERIA}
    good["relevance"] = ("24", "Addresses the priority well.")  # 80 in all
    ana.post(f"{base}/review/assignments/{proposal}/report", report_form(good, "finalise"))
    final = ana.post(f"{base}/review/assignments/{proposal}/report/finalise")
    assert "Your report is final." in final.text

    # Ben finalises through the API (75, close to Ana's 80: no spread to resolve); Ana
    # finalised first: she is the rapporteur
    ben = stack.api("evaluation", "evaluator", "ben@experts.example")
    assert ben.put(f"/me/assignments/{proposal}/report", json={"final": True, "criteria": {
        c: {"score": 15, "comment": "Reasonable but generic."} for c in CRITERIA}}
    ).status_code == 200
    consensus_url = f"{base}/review/assignments/{proposal}/consensus"
    form = eventually(lambda: (lambda r: r.status_code == 200 and r)(ana.get(consensus_url)),
                      message="Ana asked to write the consensus")
    assert "evaluator 1" in form.text and "evaluator 2" in form.text
    assert "Ben" not in ana.text() and "ben@" not in form.text
    agreed = {c: ("13", "The panel agrees on this.") for c in CRITERIA}
    agreed["relevance"] = ("24", "The panel agrees on relevance.")
    ana.post(consensus_url, report_form(agreed, "finalise"))
    done = ana.post(f"{consensus_url}/finalise")
    assert "Your report is final." in done.text
    eventually(lambda: evaluation.get(f"/proposals/{proposal}/evaluation").json()
               ["completed_at"] is not None, message="consensus reached")
    assert evaluation.get(f"/proposals/{proposal}/evaluation").json()["consensus"]["total"] \
        in ("76.0", "76.00", "76")
