"""The operations service: every event into one timeline, for the people running the call."""
from __future__ import annotations

from services.operations import handlers
from shared.db.provider import UnitOfWorkProvider
from shared.messaging.consumer import subscribe
from shared.messaging.topology import ALL_EVENTS
from shared.service import ServiceBase
from shared.web import api


class OperationsService(ServiceBase):
    name = "operations"
    uow = UnitOfWorkProvider("services.operations:migrations")

    @subscribe("submission", ALL_EVENTS)
    def record_submission_events(self, event):
        self.uow.consume(event, handlers.record)

    @subscribe("evaluation", ALL_EVENTS)
    def record_evaluation_events(self, event):
        self.uow.consume(event, handlers.record)

    @subscribe("grants", ALL_EVENTS)
    def record_grants_events(self, event):
        self.uow.consume(event, handlers.record)

    @subscribe("notifications", ALL_EVENTS)
    def record_notifications_events(self, event):
        self.uow.consume(event, handlers.record)

    @api("GET", "/proposals/<proposal_id>/timeline", roles=("operations",))
    def proposal_timeline(self, request, proposal_id, principal):
        return handlers.proposal_timeline(self.uow, proposal_id)
