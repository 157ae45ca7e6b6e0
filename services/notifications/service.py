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
from services.notifications.adapters.mailer import MailerProvider, delivery_timer
from services.notifications.adapters.settings import SettingsProvider
from services.notifications.schemas import ExportQuery, LettersQuery, ListQuery, ResendBody
from shared.csvexport import csv_response
from shared.db.provider import UnitOfWorkProvider
from shared.documents.web import pdf_response
from shared.messaging.consumer import subscribe
from shared.messaging.topology import ALL_EVENTS
from shared.service import ServiceBase
from shared.openapi import doc
from shared.web import api, json_body

READERS = ("applicant", "evaluator", "operations")

# a stage change sends one event per proposal (thousands at a deadline or a ranking): a
# batch is applied in one transaction with a few statements (handlers.on_events); a
# failing batch is handled again event by event; it fills for up to 100 ms while events keep
# coming, and goes 20 ms after the latest once they pause
BATCH = {"batch_size": 50, "batch_wait_ms": 100, "batch_idle_ms": 20}


class NotificationsService(ServiceBase):
    name = "notifications"
    uow = UnitOfWorkProvider("services.notifications:migrations")
    mailer = MailerProvider()
    settings = SettingsProvider()
    dead_letters = DeadLetterProvider()

    # ------------------------------------------------------------------ events
    @subscribe("submission", ALL_EVENTS, **BATCH)
    def on_submission_event(self, events):
        self._consume(events)

    @subscribe("evaluation", ALL_EVENTS, **BATCH)
    def on_evaluation_event(self, events):
        self._consume(events)

    @subscribe("grants", ALL_EVENTS, **BATCH)
    def on_grants_event(self, events):
        self._consume(events)

    def _consume(self, events):
        if handlers.consume(self.uow, events, self.clock.now(), self.settings):
            self.mailer.wake()  # what the events queued goes out now, not at the next tick

    # ------------------------------------------------------------------ timers
    @delivery_timer(interval=0.5)
    def deliver(self):
        handlers.deliver_all_due(self.uow, self.mailer, self.clock, self.settings)

    @timer(interval=1.0)
    def on_clock(self):
        self.on_clock_tick()

    def health_details(self) -> dict:
        return handlers.delivery_health(self.uow, self.mailer)

    def on_clock_tick(self):
        now = self.clock.now()
        queued = (handlers.send_reminders(self.uow, now, self.settings)
                  + handlers.send_digests(self.uow, now, self.settings, self.dead_letters))
        if queued:
            self.mailer.wake()
        return queued

    # ------------------------------------------------------------------ HTTP
    @api("GET", "/notifications", roles=READERS)
    @doc("Notifications (yours; operations: all)", query=ListQuery)
    def list_notifications(self, request, principal):
        query = ListQuery().load(request.args.to_dict())
        return handlers.list_notifications(self.uow, principal, query)

    @api("GET", "/notifications.csv", roles=("operations",))
    @doc("The delivery log as CSV (the list's filters)", response="csv", query=ExportQuery)
    def export_notifications(self, request, principal):
        query = ExportQuery().load(request.args.to_dict())
        page = handlers.list_notifications(self.uow, principal, query)
        return csv_response(handlers.queries.SUMMARY, page["items"], "delivery-log.csv")

    @api("GET", "/notifications/<notification_id>", roles=READERS)
    @doc("One notification and its deliveries", errors=(404,))
    def get_notification(self, request, notification_id, principal):
        return handlers.get_notification(self.uow, principal, notification_id)

    @api("GET", "/notifications/<notification_id>/letter.pdf", roles=READERS)
    @doc("A result letter as PDF (its recipient or operations)", response="pdf",
         errors=(404, 409))
    def letter_pdf(self, request, notification_id, principal):
        pdf = handlers.letter_pdf(self.uow, principal, notification_id, self.mailer.sender)
        return pdf_response(pdf, f"letter-{notification_id}.pdf")

    @api("POST", "/notifications/<notification_id>/resend", roles=("operations",))
    @doc("Send a notification again", body=ResendBody, status=202, errors=(404, 409))
    def resend(self, request, notification_id, principal):
        body = ResendBody().load(json_body(request))
        return 202, handlers.resend(self.uow, principal, notification_id, body["reason"],
                                    self.clock.now())

    @api("GET", "/letters", roles=("operations",))
    @doc("The result letters of a call", query=LettersQuery, errors=(404,))
    def letters(self, request, principal):
        query = LettersQuery().load(request.args.to_dict())
        return handlers.letters_of_call(self.uow, query["call_id"])
