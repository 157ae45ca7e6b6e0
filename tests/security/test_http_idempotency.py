"""Issue 9, point 2 (server side): Idempotency-Key on state-changing requests, through real
services. A retried submit, evaluator decline, final report and authority signature answer
the first response (``Idempotent-Replayed: true``) instead of 404/409; a key reused with
another body is a 422; a request killed after its commit is never run again."""
from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from tests.support.evaluation_events import (call_published as evaluation_call, deadline_closed,
                                             expert_record, publish as publish_evaluation,
                                             screened, stage)
from tests.support.grants_events import (INFORMATION_AT, amif_call, call_published, coordinator,
                                         entry, publish, ranking, stage_reached)
from tests.support.infra import eventually
from tests.support.submission_data import TOPIC_1, call_yaml, proposal_body

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
KEY = {"Idempotency-Key": "retry-me-0001"}
SCORES = {"relevance": 27, "quality": 18, "cost_effectiveness": 13, "european_added_value": 13,
          "results_impact": 17}


def replayed(first: requests.Response, again: requests.Response) -> bool:
    return (again.status_code, again.content) == (first.status_code, first.content) and \
        again.headers.get("Idempotent-Replayed") == "true" and \
        "Idempotent-Replayed" not in first.headers


def test_a_retried_submit_answers_the_first_receipt_even_after_a_crash_past_its_commit(stack):
    stack.start("submission")
    assert stack.api("submission").post("/calls", data=call_yaml().encode()).status_code == 201
    ghent = stack.api("submission", "applicant", "ghent@example.eu")
    first_id, second_id = (ghent.post("/proposals", json=proposal_body()).json()["id"]
                           for _ in range(2))

    # a retry gets the first receipt, not a second version; another body is refused
    first = ghent.post(f"/proposals/{first_id}/submit", headers=KEY)
    assert first.status_code == 200 and first.json()["version"] == 1, first.text
    again = ghent.post(f"/proposals/{first_id}/submit", headers=KEY)
    assert replayed(first, again)
    reused = ghent.post(f"/proposals/{second_id}/submit", headers=KEY)
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"
    bad_key = ghent.post(f"/proposals/{first_id}/submit", headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(ghent.get(f"/proposals/{first_id}").json()["versions"]) == 1
    # the same key is another principal's own: no clash, no leak
    stranger = stack.api("submission", "applicant", "aarhus@example.dk")
    assert stranger.post(f"/proposals/{first_id}/submit", headers=KEY).status_code == 404

    # killed right after the submission committed, before answering: the retry after the
    # restart must not submit again
    stack.restart("submission", env={"GRANTFLOW_FAILPOINTS": "producer.after_commit"})
    crash_key = {"Idempotency-Key": "crash-after-commit"}
    with pytest.raises(requests.ConnectionError):
        ghent.post(f"/proposals/{second_id}/submit", headers=crash_key)
    stack.restart("submission", env={"GRANTFLOW_FAILPOINTS": ""})
    retried = ghent.post(f"/proposals/{second_id}/submit", headers=crash_key)
    assert retried.status_code == 200, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["outcome"] == "applied"
    assert len(ghent.get(f"/proposals/{second_id}").json()["versions"]) == 1


def test_a_retried_decline_and_final_report_answer_the_first_response(stack):
    stack.start("evaluation")
    publish_evaluation(stack.vhost.amqp_uri, evaluation_call(),
                       stage("evaluation_start"), deadline_closed(["P-1"]), screened("P-1"))
    operations = stack.api("evaluation")
    assert operations.post("/experts/import", json={"experts": [
        expert_record(i, max_load=2) for i in range(1, 4)]}).status_code == 200
    assigned = eventually(lambda: (lambda a: len(a) == 2 and a)(
        operations.get("/assignments", params={"topic_id": TOPIC_1}).json()),
        message="two evaluators assigned to P-1")
    emails = sorted(f"expert{a['expert_id'].split('-')[1]}@pool.example.org"
                    for a in assigned)
    writer, decliner = (stack.api("evaluation", "evaluator", email) for email in emails)

    first = decliner.post("/me/assignments/P-1/decline", json={"reason": "travelling"},
                          headers=KEY)
    assert first.status_code == 200, first.text
    assert replayed(first, decliner.post("/me/assignments/P-1/decline",
                                         json={"reason": "travelling"}, headers=KEY))
    without_key = decliner.post("/me/assignments/P-1/decline", json={"reason": "travelling"})
    assert without_key.status_code == 404  # what a blind retry used to get

    criteria = {c: {"score": s, "comment": "A clear plan with credible partners."}
                for c, s in SCORES.items()}
    assert writer.put("/me/assignments/P-1/report", json={"criteria": criteria}
                      ).status_code == 200
    final = writer.post("/me/assignments/P-1/report/final", headers=KEY)
    assert final.status_code == 200, final.text
    assert replayed(final, writer.post("/me/assignments/P-1/report/final", headers=KEY))
    assert writer.post("/me/assignments/P-1/report/final").status_code == 409


def test_a_retried_authority_signature_answers_the_first_response(stack):
    stack.start("grants")
    publish(stack.vhost.amqp_uri, call_published(amif_call()),
            ranking([entry("M1", 1, "1000000")], [], "1000000"))
    stack.clock.set(INFORMATION_AT)
    publish(stack.vhost.amqp_uri, stage_reached())
    authority = stack.api("grants", "operations")
    eventually(lambda: authority.get("/grants/GRANT-M1").status_code == 200,
               message="the grant file is opened")
    applicant = stack.api("grants", "applicant", coordinator("M1"))
    for step in ("confirm", "sign"):
        assert applicant.post(f"/grants/GRANT-M1/{step}").status_code == 200
    first = authority.post("/grants/GRANT-M1/authority-sign", headers=KEY)
    assert first.status_code == 200 and first.json()["state"] == "signed", first.text
    assert replayed(first, authority.post("/grants/GRANT-M1/authority-sign", headers=KEY))
    assert authority.post("/grants/GRANT-M1/authority-sign").status_code == 409


def test_a_key_in_progress_is_a_conflict_and_a_committed_key_is_never_run_again(databases):
    """The store itself on PostgreSQL: the advisory lock makes a second claim of a key in
    progress fail at once, and a key recorded by the command's transaction is seen as
    applied even if its response was never stored."""
    from shared import idempotency  # (imported here: the HTTP tests above also run on main)
    from shared.db.engine import create_service_engine

    engine = create_service_engine(databases.url("keys"))
    idempotency.metadata.create_all(engine)
    store = idempotency.Store(engine)
    claim = store.claim("applicant:a@example.org", "k1", "POST", "/x", b"{}")
    assert claim.replay is None
    with pytest.raises(idempotency.KeyInProgress):
        store.claim("applicant:a@example.org", "k1", "POST", "/x", b"{}")
    with engine.begin() as connection:  # the command's transaction, its before-commit hook
        from sqlalchemy.orm import Session
        session = Session(bind=connection)
        claim.record_applied(session)
        session.flush()
    claim.release()  # the process "died" before the response was kept
    again = store.claim("applicant:a@example.org", "k1", "POST", "/x", b"{}")
    assert again.replay == idempotency.Stored(200, None, None)
    again.release()
    with pytest.raises(idempotency.KeyReused):
        store.claim("applicant:a@example.org", "k1", "POST", "/x", b'{"other": 1}')
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(
            idempotency.idempotency_keys)).scalar() == 1
    engine.dispose()


def test_an_expired_key_is_forgotten_and_runs_again_and_old_keys_are_swept(databases):
    """Keys live ``ttl`` of the wall clock: past it, the same key with another body is a
    new request (its old row deleted, not a 422), and now and then a claim sweeps every
    expired key away."""
    from datetime import datetime, timedelta, timezone

    from shared import idempotency
    from shared.db.engine import create_service_engine

    engine = create_service_engine(databases.url("expiry"))
    idempotency.metadata.create_all(engine)
    clock = [datetime(2019, 1, 31, 16, tzinfo=timezone.utc)]
    store = idempotency.Store(engine, ttl=timedelta(hours=1), now=lambda: clock[0])

    def kept() -> set[str]:
        with engine.connect() as connection:
            return set(connection.execute(sa.select(idempotency.idempotency_keys.c.key)).scalars())

    for key in ("old-1", "old-2"):
        store.claim("applicant:a@example.org", key, "POST", "/x", b"{}").finish(
            200, "application/json", b'{"n": 1}')
    replay = store.claim("applicant:a@example.org", "old-1", "POST", "/x", b"{}")
    assert replay.replay == idempotency.Stored(200, "application/json", b'{"n": 1}')
    replay.release()
    assert kept() == {"old-1", "old-2"}

    clock[0] += timedelta(hours=2)  # both expired
    fresh = store.claim("applicant:a@example.org", "old-1", "POST", "/x", b'{"other": 1}')
    assert fresh.replay is None  # a new request, not idempotency_key_reused
    fresh.release()
    assert kept() == {"old-2"}  # the expired row of this key is gone
    store.claim("applicant:b@example.org", "new", "POST", "/x", b"{}").finish(201, None, b"")
    for claims in range(1, 101):  # requests that are answered but keep nothing
        if "old-2" not in kept():
            break
        store.claim("applicant:b@example.org", f"k{claims}", "GET", "/x", b"").release()
    assert kept() == {"new"}, "no claim in a hundred swept the expired keys"
    engine.dispose()


def test_the_key_locks_keep_their_connections_under_concurrent_requests(databases):
    """Requests in flight together each hold a key lock on a connection of the store's own
    pool, sized like the service's: returned, the connection is kept for the next request
    rather than closed (a PostgreSQL backend set up and torn down per request)."""
    from shared import idempotency
    from shared.db.engine import create_service_engine

    engine = create_service_engine(databases.url("keys"))
    idempotency.metadata.create_all(engine)
    store = idempotency.Store(engine, pool_size=3, max_overflow=0)
    backends = set()
    for round_ in range(5):
        claims = [store.claim("applicant:a@example.org", f"k{round_}-{n}", "POST", "/x", b"{}")
                  for n in range(3)]  # three requests at once
        backends |= {c._connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
                     for c in claims}
        for claim in claims:
            claim.finish(200, "application/json", b"{}")
    assert len(backends) == 3  # the same three connections all along
    engine.dispose()
