"""The notifications service: renders and sends what each event means to each person.

Subscribes to every event of the other producers (one queue per producer): events that
concern a person carry the addresses to tell, the others feed result letters, reminders
and the daily digest (which reads this service's own outcomes from its delivery log). Timers deliver the log over SMTP and run reminders and digests on the
service clock. See README.md in this directory.
"""
from __future__ import annotations

from nameko.timer import timer

from services.notifications import handlers
from services.notifications.adapters.deadletters import DeadLetterProvider
from services.notifications.adapters.mailer import MailerProvider
from services.notifications.adapters.settings import SettingsProvider
from services.notifications.schemas import ExportQuery, LettersQuery, ListQuery, ResendBody
from shared.csvexport import csv_response
from shared.db.provider import UnitOfWorkProvider
from shared.messaging.consumer import subscribe
from shared.messaging.topology import ALL_EVENTS
from shared.service import ServiceBase
from shared.web import api, json_body

READERS = ("applicant", "evaluator", "operations")


class NotificationsService(ServiceBase):
    name = "notifications"
    uow = UnitOfWorkProvider("services.notifications:migrations")
    mailer = MailerProvider()
    settings = SettingsProvider()
    dead_letters = DeadLetterProvider()

    # ------------------------------------------------------------------ events
    @subscribe("submission", ALL_EVENTS)
    def on_submission_event(self, event):
        self.uow.consume(event, handlers.on_event, self.clock.now(), self.settings)

    @subscribe("evaluation", ALL_EVENTS)
    def on_evaluation_event(self, event):
        self.uow.consume(event, handlers.on_event, self.clock.now(), self.settings)

    @subscribe("grants", ALL_EVENTS)
    def on_grants_event(self, event):
        self.uow.consume(event, handlers.on_event, self.clock.now(), self.settings)

    # ------------------------------------------------------------------ timers
    @timer(interval=0.5)
    def deliver(self):
        handlers.dispatch_due(self.uow, self.mailer, self.clock, self.settings)

    @timer(interval=1.0)
    def on_clock(self):
        self.on_clock_tick()

    def on_clock_tick(self):
        now = self.clock.now()
        return (handlers.send_reminders(self.uow, now, self.settings)
                + handlers.send_digests(self.uow, now, self.settings, self.dead_letters))

    # ------------------------------------------------------------------ HTTP
    @api("GET", "/notifications", roles=READERS)
    def list_notifications(self, request, principal):
        query = ListQuery().load(request.args.to_dict())
        return handlers.list_notifications(self.uow, principal, query)

    @api("GET", "/notifications.csv", roles=("operations",))
    def export_notifications(self, request, principal):
        query = ExportQuery().load(request.args.to_dict())
        page = handlers.list_notifications(self.uow, principal, query)
        return csv_response(handlers.queries.SUMMARY, page["items"], "delivery-log.csv")

    @api("GET", "/notifications/<notification_id>", roles=READERS)
    def get_notification(self, request, notification_id, principal):
        return handlers.get_notification(self.uow, principal, notification_id)

    @api("POST", "/notifications/<notification_id>/resend", roles=("operations",))
    def resend(self, request, notification_id, principal):
        body = ResendBody().load(json_body(request))
        return 202, handlers.resend(self.uow, principal, notification_id, body["reason"],
                                    self.clock.now())

    @api("GET", "/letters", roles=("operations",))
    def letters(self, request, principal):
        query = LettersQuery().load(request.args.to_dict())
        return handlers.letters_of_call(self.uow, query["call_id"])
