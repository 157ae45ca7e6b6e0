"""Short steps the handler tests share (create, submit, tick) with the status checks."""
from __future__ import annotations

from services.submission import handlers
from services.submission.schemas import (ProposalCreateSchema, ProposalSchema,
                                         ReceiptSchema)
from tests.support.submission_data import proposal_body

from .conftest import applicant


def conforms(schema, data) -> dict:
    """``data`` if it validates against the documented response schema."""
    errors = schema().validate(data)
    assert errors == {}, errors
    return data


def create(uows, clock, body: dict | None = None, who=None) -> dict:
    body = ProposalCreateSchema().load(body or proposal_body())
    view = handlers.create(uows(), who or applicant(), body, clock.now())
    return conforms(ProposalSchema, view)


def submit(uows, clock, proposal_id: str, who=None) -> dict:
    return conforms(ReceiptSchema, handlers.submit(uows(), who or applicant(), proposal_id,
                                                   clock))


def tick(uows, at) -> list[str]:
    return [f["milestone"] for f in handlers.tick_timetable(uows(), at, work_seconds=None).fired]
