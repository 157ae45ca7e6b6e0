"""Small helpers for the backbone tests: a proposal through the skeleton API, DB probes."""
from __future__ import annotations

import sqlalchemy as sa

CONTACTS = ["coordinator@lyon.example.eu", "partner@graz.example.at"]


def skeleton_proposal(stack) -> str:
    applicant = stack.api("submission", role="applicant", email=CONTACTS[0])
    response = applicant.post("/proposals", json={
        "call_id": "AMIF-2018-AG-INTE", "topic_id": "AMIF-2018-AG-INTE-1", "acronym": "CITYNET",
        "title": "Cities learning integration", "applicant_name": "Ville de Lyon",
        "contact_emails": CONTACTS})
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
