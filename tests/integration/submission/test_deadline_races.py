"""Races at the deadline on PostgreSQL, with real threads on separate connections: a
submission in flight when the topic closes ends up in the manifest, and two replicas
ticking at once fire each milestone once."""
import threading
from datetime import timedelta

import pytest

from services.submission import handlers
from services.submission.schemas import ProposalCreateSchema
from tests.support.submission_data import (OPS, DEADLINE, ManualClock, applicant, call_yaml,
                                           proposal_body)
from tests.support.uow import UowFactory

pytestmark = pytest.mark.integration


def test_a_submission_in_flight_at_closing_is_in_the_manifest_and_replicas_fire_once(
        databases, tmp_path):
    uows = UowFactory("services.submission:migrations", tmp_path / "unused", "submission",
                      url=databases.url("submission"))
    clock = ManualClock()
    assert handlers.load_call(uows(), OPS, call_yaml(), clock.now())[0] == 201
    body = ProposalCreateSchema().load(proposal_body())
    proposal_id = handlers.create(uows(), applicant(), body, clock.now())["id"]

    # the first submission of a draft (not a submitted proposal yet: closing must lock
    # drafts too) is stuck at the moment it reads the clock, inside its transaction
    clock.hold()
    receipt, fired, failures = {}, [], []

    def submit():
        receipt.update(handlers.submit(uows(), applicant(), proposal_id, clock))

    def replica():
        try:
            fired.extend(handlers.tick_timetable(uows(), DEADLINE, work_seconds=None).fired)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    submitter = threading.Thread(target=submit)
    submitter.start()
    assert clock.waiting.wait(10), "the submission never read the clock"
    replicas = [threading.Thread(target=replica) for _ in range(2)]
    for thread in replicas:
        thread.start()
    replicas[0].join(1.0)
    assert all(t.is_alive() for t in replicas), "closing did not wait for the submission"

    clock.set(DEADLINE - timedelta(microseconds=1))  # it was received just in time
    clock.release()
    for thread in (submitter, *replicas):
        thread.join(60)
    assert not failures, failures
    assert receipt["version"] == 1

    closed = [e for e in uows.outbox() if e["event_type"] == "deadline_closed"]
    assert len(closed) == 5  # once per topic, although two replicas ticked
    [mine] = [e for e in closed if e["manifest"]]
    assert mine["manifest"] == [{k: receipt[k] for k in
                                 ("proposal_id", "version", "content_hash", "received_at")}]
    stages = [e["stage"] for e in uows.outbox() if e["event_type"] == "timetable_stage_reached"]
    assert stages == ["publication", "submission_deadline"]
    assert sorted(f["milestone"] for f in fired) == ["publication", "submission_deadline"]
    assert len([e for e in uows.outbox() if e["event_type"] == "proposal_screened"]) == 1
    uows.engine.dispose()
