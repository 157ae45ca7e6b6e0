"""The notifications service: renders and sends what each event means to each person."""
from __future__ import annotations

from nameko.timer import timer

from services.notifications import handlers
from services.notifications.adapters.mailer import MailerProvider
from shared.db.provider import UnitOfWorkProvider
from shared.events import ProposalSubmitted
from shared.messaging.consumer import subscribe
from shared.service import ServiceBase
from shared.web import api


class NotificationsService(ServiceBase):
    name = "notifications"
    uow = UnitOfWorkProvider("services.notifications:migrations")
    mailer = MailerProvider()

    @subscribe("submission", ProposalSubmitted)
    def on_proposal_submitted(self, event):
        self.uow.consume(event, handlers.on_proposal_submitted)

    @timer(interval=0.5)
    def dispatch(self):
        handlers.dispatch_due(self.uow, self.mailer, self.clock)

    @api("GET", "/notifications", roles=("operations",))
    def list_notifications(self, request, principal):
        return handlers.list_deliveries(self.uow, request.args.get("proposal_id"),
                                        request.args.get("recipient"))
