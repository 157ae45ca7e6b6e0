"""The grants service."""
from __future__ import annotations

from services.grants import handlers
from shared.db.provider import UnitOfWorkProvider
from shared.events import ProposalSubmitted
from shared.messaging.consumer import subscribe
from shared.service import ServiceBase
from shared.web import api


class GrantsService(ServiceBase):
    name = "grants"
    uow = UnitOfWorkProvider("services.grants:migrations")

    @subscribe("submission", ProposalSubmitted)
    def on_proposal_submitted(self, event):
        self.uow.consume(event, handlers.note_submission)

    @api("GET", "/known-proposals", roles=("operations",))
    def known_proposals(self, request, principal):
        return handlers.known(self.uow)
