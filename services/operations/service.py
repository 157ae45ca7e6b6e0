"""The operations service: the read side for the people running a call.

It hears every event of the four producers and builds its projections from them alone
(timeline, proposal states, call timetable, topic budget lines, evaluator loads), serves
them as JSON and as the operations page, and lists and replays the dead-letter queue.
"""
from __future__ import annotations

from functools import partial

from nameko.dependency_providers import Config

from services.operations import handlers
from services.operations.adapters.dead_letters import DeadLetters
from services.operations.adapters.page import DEFAULT_REFRESH_MS, render_page, svg_response
from services.operations.schemas import LoadsQuerySchema, ProposalQuerySchema, ReplaySchema
from shared.db.provider import UnitOfWorkProvider
from shared.pages.i18n import negotiate
from shared.messaging.consumer import subscribe
from shared.messaging.topology import ALL_EVENTS
from shared.service import ServiceBase
from shared.openapi import doc
from shared.web import api, json_body, json_text_response, metrics_response

OPS = ("operations",)


# every event of a call is projected under the call's lock: a batch takes it once for up to
# 100 events instead of once per event (the operations service reads every event there is);
# while events keep coming a batch fills for up to 250 ms (fewer transactions: the cost),
# and it goes 50 ms after the latest once they pause (a replayed instant settles quickly)
BATCH = {"batch_size": 100, "batch_wait_ms": 250, "batch_idle_ms": 50}


class OperationsService(ServiceBase):
    name = "operations"
    uow = UnitOfWorkProvider("services.operations:migrations")
    dead_letters = DeadLetters()
    config = Config()

    # ------------------------------------------------------------------ events
    @subscribe("submission", ALL_EVENTS, **BATCH)
    def record_submission_events(self, events):
        self._record(events)

    @subscribe("evaluation", ALL_EVENTS, **BATCH)
    def record_evaluation_events(self, events):
        self._record(events)

    @subscribe("grants", ALL_EVENTS, **BATCH)
    def record_grants_events(self, events):
        self._record(events)

    @subscribe("notifications", ALL_EVENTS, **BATCH)
    def record_notifications_events(self, events):
        self._record(events)

    def _record(self, events):
        self.uow.consume_batch(events, partial(handlers.on_events, now=self.clock.now()),
                               prepare=handlers.lock_calls, bulk=True)

    # ------------------------------------------------------------------ page and metrics
    @api("GET", "/", public=True)
    @doc("The operations page (HTML)", response="html")
    def page(self, request):
        return render_page((self.config.get("OPS_PAGE") or {}).get("refresh_ms",
                                                                   DEFAULT_REFRESH_MS),
                           negotiate(request.accept_languages))

    @api("GET", "/metrics", public=True)
    @doc("Prometheus metrics (text exposition format)", response="text")
    def metrics(self, request):
        handlers.refresh_state_gauge(self.uow)
        return metrics_response()

    # ------------------------------------------------------------------ calls
    @api("GET", "/calls", roles=OPS)
    @doc("Calls seen so far")
    def calls(self, request, principal):
        return handlers.list_calls(self.uow)

    @api("GET", "/calls/<call_id>/overview", roles=OPS)
    @doc("A call: stages, counts per state, topics", errors=(404,))
    def call_overview(self, request, call_id, principal):
        return handlers.overview(self.uow, call_id, self.clock.now())

    @api("GET", "/calls/<call_id>/proposals", roles=OPS)
    @doc("A call's proposals and their states", errors=(404,), query=ProposalQuerySchema)
    def call_proposals(self, request, call_id, principal):
        query = ProposalQuerySchema().load(request.args.to_dict())
        return json_text_response(handlers.call_proposals_json(self.uow, call_id, **query))

    @api("GET", "/calls/<call_id>/report", roles=OPS)
    @doc("The call report: every proposal's outcome", errors=(404,))
    def call_report(self, request, call_id, principal):
        return json_text_response(handlers.report_json(self.uow, call_id, self.clock.now()))

    @api("GET", "/calls/<call_id>/plots", roles=OPS)
    @doc("Each plot of the page: its SVG, title, description and data table",
         response="object", errors=(404,))
    def call_plots(self, request, call_id, principal):
        return handlers.plots(self.uow, call_id, negotiate(request.accept_languages))

    @api("GET", "/calls/<call_id>/plots/<plot_id>.svg", roles=OPS)
    @doc("One plot as an SVG document (to save or to put in a report)", response="svg",
         errors=(404,))
    def call_plot_svg(self, request, call_id, plot_id, principal):
        return svg_response(handlers.plot_svg(self.uow, call_id, plot_id,
                                              negotiate(request.accept_languages)))

    @api("POST", "/calls/<call_id>/rebuild", roles=OPS)
    @doc("Rebuild a call's projections from its recorded events", errors=(404,))
    def rebuild_call(self, request, call_id, principal):
        return handlers.rebuild(self.uow, call_id, self.clock.now())

    # ------------------------------------------------------------------ proposals, loads
    @api("GET", "/proposals/<proposal_id>", roles=OPS)
    @doc("A proposal's state", errors=(404,))
    def proposal(self, request, proposal_id, principal):
        return handlers.proposal(self.uow, proposal_id)

    @api("GET", "/proposals/<proposal_id>/timeline", roles=OPS)
    @doc("A proposal's timeline", errors=(404,))
    def proposal_timeline(self, request, proposal_id, principal):
        return handlers.proposal_timeline(self.uow, proposal_id)

    @api("GET", "/loads", roles=OPS)
    @doc("Evaluator loads", query=LoadsQuerySchema)
    def loads(self, request, principal):
        return handlers.loads(self.uow, **LoadsQuerySchema().load(request.args.to_dict()))

    # ------------------------------------------------------------------ dead letters
    @api("GET", "/dead-letters", roles=OPS)
    @doc("The dead-letter queue")
    def list_dead_letters(self, request, principal):
        return handlers.list_dead_letters(self.dead_letters)

    @api("POST", "/dead-letters/replay", roles=OPS)
    @doc('Replay one dead letter (event_id) or all of them ("all": true)', body=ReplaySchema,
         errors=(404,))
    def replay_dead_letters(self, request, principal):
        body = ReplaySchema().load(json_body(request))
        return handlers.replay(self.dead_letters, body["event_id"])
