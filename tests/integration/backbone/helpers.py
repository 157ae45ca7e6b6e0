"""Small helpers for the backbone tests: a proposal through the submission API, DB probes."""
from __future__ import annotations

import sqlalchemy as sa

from tests.support.infra import eventually
from tests.support.submission_data import call_yaml, participant, proposal_body

CONTACTS = ["coordinator@lyon.example.eu", "partner@graz.example.at"]


def published_call(stack) -> None:
    """Publish the bundled call and let its publication milestone fire, so the scenario
    that follows starts from a quiet outbox. Both commits write events: if the test armed
    a failpoint in submission, they are made by a process without it, which is then
    restarted with the test's failpoints armed again."""
    process = stack.processes["submission"]
    armed = dict(process.env or {})
    if "GRANTFLOW_FAILPOINTS" in armed:
        stack.restart("submission", env={})
    operations = stack.api("submission")
    loaded = operations.post("/calls", data=call_yaml().encode())
    assert loaded.status_code in (200, 201), loaded.text
    assert operations.post("/timetable/tick").status_code == 200
    eventually(lambda: scalar(stack, "submission", "SELECT count(*) FROM outbox "
                                                   "WHERE sent_at IS NULL") == 0,
               message="call_published and the publication milestone sent")
    if "operations" in stack.processes and stack.processes["operations"].is_alive():
        eventually(lambda: scalar(stack, "operations", "SELECT count(DISTINCT event_type) "
                                                       "FROM processed_events WHERE event_type "
                                                       "IN ('call_published', "
                                                       "'timetable_stage_reached')") == 2,
                   message="operations consumed them")
    if "GRANTFLOW_FAILPOINTS" in armed:
        stack.restart("submission", env=armed)


def skeleton_proposal(stack) -> str:
    """A draft with two contacts (coordinator and one co-applicant) on the published call."""
    published_call(stack)
    applicant = stack.api("submission", role="applicant", email=CONTACTS[0])
    response = applicant.post("/proposals", json=proposal_body(
        participant("Ville de Lyon", "FR", email=CONTACTS[0], experienced=True),
        [participant("Stadt Graz", "AT", email=CONTACTS[1])],
        acronym="CITYNET", title="Cities learning integration"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def submit(stack, proposal_id: str):
    applicant = stack.api("submission", role="applicant", email=CONTACTS[0])
    return applicant.post(f"/proposals/{proposal_id}/submit")


def scalar(stack, service: str, sql: str, **params):
    engine = stack.databases.engine(service)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(stack, service: str, sql: str, **params) -> list:
    engine = stack.databases.engine(service)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()
