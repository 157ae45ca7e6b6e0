"""The grants service: grant preparation, signatures, the reserve chain, TTI/TTG.

Entrypoints only translate (request or event -> handler -> response); the HTTP API is
described in services/grants/README.md.
"""
from __future__ import annotations

from nameko.timer import timer

from services.grants import handlers
from services.grants.adapters.settings import SettingsProvider
from services.grants.pages import views as pages
from services.grants.schemas import DeclineBody, GrantsQuery, NoBody, TimingQuery
from shared.db.provider import UnitOfWorkProvider
from shared.events import (CallPublished, DeadlineClosed, NotificationDelivered,
                           ProposalWithdrawn, RankingPublished, TimetableStageReached)
from shared.messaging.consumer import subscribe
from shared.pages.route import html, static_file
from shared.service import ServiceBase
from shared.openapi import doc
from shared.web import api, json_body

APPLICANT, OPERATIONS = ("applicant",), ("operations",)
READERS = ("applicant", "operations")


class GrantsService(ServiceBase):
    name = "grants"
    uow = UnitOfWorkProvider("services.grants:migrations")
    settings = SettingsProvider()

    # ------------------------------------------------------------------ events
    @subscribe("submission", CallPublished)
    def on_call_published(self, event):
        self.uow.consume(event, handlers.on_call_published, self.clock.now(),
                         self.settings.authority_email)

    @subscribe("submission", TimetableStageReached)
    def on_stage_reached(self, event):
        self.uow.consume(event, handlers.on_stage_reached, self.clock.now(),
                         self.settings.authority_email)

    @subscribe("submission", DeadlineClosed, prefetch=1)  # a topic per message: one at a time
    def on_deadline_closed(self, event):
        self.uow.consume(event, handlers.on_deadline_closed, self.clock.now())

    @subscribe("submission", ProposalWithdrawn)
    def on_proposal_withdrawn(self, event):
        self.uow.consume(event, handlers.on_proposal_withdrawn, self.clock.now(),
                         self.settings.authority_email)

    @subscribe("evaluation", RankingPublished, prefetch=1)  # a topic per message
    def on_ranking_published(self, event):
        self.uow.consume(event, handlers.on_ranking_published, self.clock.now(),
                         self.settings.authority_email)

    # result letters are released in bulk: one delivery event per letter, in batches; only
    # theirs reach this queue (the other three in four deliveries are routed elsewhere)
    @subscribe("notifications", NotificationDelivered, only=(handlers.RESULT_LETTER,),
               batch_size=100, batch_wait_ms=250, batch_idle_ms=50)
    def on_notification_delivered(self, events):
        handlers.record_deliveries(self.uow, events, self.clock.now())

    @timer(interval=1)
    def tick(self):
        self.on_clock_tick()

    def on_clock_tick(self):
        report = handlers.tick(self.uow, self.clock, self.settings.authority_email)
        return report.invited_topics + report.expired_files + report.breaches

    # ------------------------------------------------------------------ coordinator
    @api("GET", "/grants/mine", roles=APPLICANT)
    @doc("Your grant files")
    def my_grants(self, request, principal):
        return handlers.list_grants(self.uow, self.clock.now(), email=principal.email)

    @api("GET", "/grants/<grant_id>", roles=READERS)
    @doc("A grant file and its next step", errors=(404,))
    def get_grant(self, request, grant_id, principal):
        return handlers.get_grant(self.uow, principal, grant_id, self.clock.now())

    @api("POST", "/grants/<grant_id>/confirm", roles=APPLICANT)
    @doc("Confirm the grant data (coordinator)", body=NoBody, errors=(404, 409))
    def confirm(self, request, grant_id, principal):
        NoBody().load(json_body(request))
        return handlers.confirm_data(self.uow, principal, grant_id, self.clock.now())

    @api("POST", "/grants/<grant_id>/sign", roles=APPLICANT)
    @doc("Sign the grant agreement (coordinator)", body=NoBody, errors=(404, 409))
    def sign(self, request, grant_id, principal):
        NoBody().load(json_body(request))
        return handlers.sign_by_coordinator(self.uow, principal, grant_id, self.clock.now())

    @api("POST", "/grants/<grant_id>/decline", roles=APPLICANT)
    @doc("Decline the grant (coordinator)", body=DeclineBody, errors=(404, 409))
    def decline(self, request, grant_id, principal):
        body = DeclineBody().load(json_body(request))
        return handlers.decline(self.uow, principal, grant_id, body["reason"],
                                self.clock.now(), self.settings.authority_email)

    # ------------------------------------------------------------------ authority
    @api("POST", "/grants/<grant_id>/authority-sign", roles=OPERATIONS)
    @doc("Sign for the granting authority", body=NoBody, errors=(404, 409))
    def authority_sign(self, request, grant_id, principal):
        NoBody().load(json_body(request))
        return handlers.sign_by_authority(self.uow, grant_id, self.clock.now())

    @api("GET", "/grants", roles=OPERATIONS)
    @doc("Grant files", query=GrantsQuery)
    def list_grants(self, request, principal):
        query = GrantsQuery().load(request.args.to_dict())
        return handlers.list_grants(self.uow, self.clock.now(), **query)

    @api("GET", "/grants/<grant_id>/payments", roles=OPERATIONS)
    @doc("A grant's payment orders", errors=(404,))
    def grant_payments(self, request, grant_id, principal):
        return handlers.payments(self.uow, grant_id, self.clock.now())

    @api("GET", "/timing", roles=OPERATIONS)
    @doc("Time to inform and time to grant per proposal", query=TimingQuery)
    def timing(self, request, principal):
        query = TimingQuery().load(request.args.to_dict())
        return {"proposals": handlers.timing_report(self.uow, self.clock.now(), **query)}

    # ------------------------------------------------------------------ applicants' pages
    @html("GET", "/apply/grants/static/<name>", audience="apply", signed_in=False)
    def page_static(self, request, name, page):
        return static_file(name)

    @html("GET", "/apply/grants/", audience="apply")
    def page_grants(self, request, page):
        return pages.mine(page, self.uow)

    @html("GET", "/apply/grants/<grant_id>", audience="apply")
    def page_grant(self, request, grant_id, page):
        return pages.grant(page, self.uow, grant_id)

    @html("POST", "/apply/grants/<grant_id>/confirm", audience="apply")
    def page_confirm(self, request, grant_id, page):
        return pages.confirm(page, self.uow, grant_id)

    @html("POST", "/apply/grants/<grant_id>/sign", audience="apply")
    def page_sign(self, request, grant_id, page):
        return pages.sign(page, self.uow, grant_id)

    @html("POST", "/apply/grants/<grant_id>/decline", audience="apply")
    def page_decline(self, request, grant_id, page):
        return pages.decline(page, self.uow, grant_id, self.settings.authority_email)
