"""The evaluation service."""
from __future__ import annotations

from services.evaluation import handlers
from shared.db.provider import UnitOfWorkProvider
from shared.events import ProposalSubmitted
from shared.messaging.consumer import subscribe
from shared.service import ServiceBase
from shared.web import api


class EvaluationService(ServiceBase):
    name = "evaluation"
    uow = UnitOfWorkProvider("services.evaluation:migrations")

    @subscribe("submission", ProposalSubmitted)
    def on_proposal_submitted(self, event):
        self.uow.consume(event, handlers.note_submission)

    @api("GET", "/known-proposals", roles=("operations",))
    def known_proposals(self, request, principal):
        return handlers.known(self.uow)
