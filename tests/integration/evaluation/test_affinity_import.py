"""Imported affinity scores through the real evaluation service (its own process,
PostgreSQL, RabbitMQ, the solver in its child process) and the CLI: a file with bad lines
is refused whole with every line named, and a good one changes who is assigned.

Four identical proposals; E-1 and E-2 match their text (and could take all eight
evaluations), E-3 and E-4 share only the integration areas. Without imports every
proposal gets E-1 and E-2; the import says E-3 and E-4 are the ones for P-1."""
import os
import subprocess
import sys

import pytest
import requests

from tests.support.evaluation_events import (
    CALL_ID, TOPIC, call_published, deadline_closed, expert_record, publish, screened, stage)
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration]

PROPOSALS = ("P-1", "P-2", "P-3", "P-4")


def grantflow(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRANTFLOW_EVALUATION_URL": stack.url("evaluation")}
    return subprocess.run([sys.executable, "-m", "grantflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_imported_scores_change_who_is_assigned(stack, tmp_path):
    stack.start("evaluation")
    evaluation = stack.api("evaluation")
    publish(stack.vhost.amqp_uri, call_published(), deadline_closed(list(PROPOSALS)),
            *[screened(p) for p in PROPOSALS])
    experts = [expert_record(1), expert_record(2),
               expert_record(3, keywords=("astronomy", "volcanoes")),
               expert_record(4, keywords=("medieval poetry",))]
    assert evaluation.post("/experts/import", json={"experts": experts}).status_code == 200

    def in_evaluation():
        topics = evaluation.get(f"/calls/{CALL_ID}/topics")
        return topics.status_code == 200 and any(
            t["topic_id"] == TOPIC and t["evaluated"] == 4 for t in topics.json())

    eventually(in_evaluation, message="the four proposals in evaluation")

    bad = tmp_path / "bad.csv"
    bad.write_text("proposal_id,expert_id,score\nP-1,E-3,1\nP-1,E-9,0.5\nP-7,E-3,1.5\n"
                   "P-1,E-3,0.9\n")
    refused = grantflow(stack, "experts", "affinities", "import", str(bad))
    assert refused.returncode == 2, refused.stderr
    for expected in ("expert_id: 'E-9' is not an expert of the pool (line 3)",
                     "proposal_id: 'P-7' is not a proposal in evaluation (closed and "
                     "screened) (line 4)",
                     "score: 1.5 is not within [0, 1] (line 4)",
                     "_line: repeats the pair of line 2 (line 5)"):
        assert expected in refused.stderr
    answer = requests.post(f"{evaluation.base_url}/affinities/import", data=bad.read_bytes(),
                           headers={**evaluation.headers, "Content-Type": "text/csv"},
                           timeout=60)
    assert answer.status_code == 422
    assert {(e["line"], e["field"]) for e in answer.json()["errors"]} == {
        (3, "expert_id"), (4, "proposal_id"), (4, "score"), (5, "_line")}

    good = tmp_path / "scores.csv"
    good.write_text("expert_id,proposal_id,score\n"
                    "E-3,P-1,1.0\nE-4,P-1,0.95\nE-1,P-1,0\nE-2,P-1,0.0\n")
    imported = grantflow(stack, "experts", "affinities", "import", str(good))
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 score(s) for 1 proposal(s) and 4 expert(s)" in imported.stdout

    publish(stack.vhost.amqp_uri, stage("evaluation_start"))
    pairs = eventually(lambda: (lambda rows: len(rows) == 8 and rows)(
        evaluation.get("/assignments", params={"topic_id": TOPIC}).json()),
        timeout=180, message="the timer's assignment")
    by_proposal = {p: {a["expert_id"] for a in pairs if a["proposal_id"] == p}
                   for p in PROPOSALS}
    assert by_proposal == {"P-1": {"E-3", "E-4"}, "P-2": {"E-1", "E-2"},
                           "P-3": {"E-1", "E-2"}, "P-4": {"E-1", "E-2"}}
