"""The submission service: calls, proposals, the deadline, screening (nameko entrypoints
that only translate between HTTP/events and handlers)."""
from __future__ import annotations

from nameko.timer import timer  # noqa: F401  (timetable driver arrives with issue 6)

from services.submission import handlers
from shared.db.provider import UnitOfWorkProvider
from shared.service import ServiceBase
from shared.web import api, json_body


class SubmissionService(ServiceBase):
    name = "submission"
    uow = UnitOfWorkProvider("services.submission:migrations")

    @api("POST", "/proposals", roles=("applicant", "operations"))
    def create_proposal(self, request, principal):
        return 201, handlers.create_draft(self.uow, principal.email, json_body(request),
                                          self.clock.now())

    @api("POST", "/proposals/<proposal_id>/submit", roles=("applicant", "operations"))
    def submit_proposal(self, request, proposal_id, principal):
        return handlers.submit(self.uow, principal, proposal_id, self.clock.now())

    @api("GET", "/proposals/<proposal_id>", roles=("applicant", "operations"))
    def get_proposal(self, request, proposal_id, principal):
        return handlers.get(self.uow, principal, proposal_id)
