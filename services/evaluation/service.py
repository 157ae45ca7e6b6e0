"""The evaluation service: experts, conflicts of interest, optimal assignment with repair,
reports, consensus, ranking within the budget, summary reports (nameko entrypoints that
only translate between HTTP/events and handlers; the API is described in README.md)."""
from __future__ import annotations

from functools import partial

from nameko.timer import timer
from werkzeug.wrappers import Response

from services.evaluation import handlers
from services.evaluation.adapters.solver_provider import SolverProvider
from services.evaluation.schemas import (
    DeclineSchema, NoteSchema, OperationsConflictSchema, OverrideSchema, PublishRankingSchema,
    ReasonSchema, ReportSchema, RunSchema)
from shared.db.provider import UnitOfWorkProvider
from shared.events import (
    CallPublished, DeadlineClosed, ProposalScreened, ProposalWithdrawn, TimetableStageReached)
from shared.messaging.consumer import subscribe
from shared.service import ServiceBase
from shared.web import api, json_body

OPS, EVALUATOR = ("operations",), ("evaluator",)
h = handlers


class EvaluationService(ServiceBase):
    name = "evaluation"
    uow = UnitOfWorkProvider("services.evaluation:migrations")
    solver = SolverProvider()

    # ------------------------------------------------------------ events (submission)
    @subscribe("submission", CallPublished)
    def on_call_published(self, event):
        self.uow.consume(event, h.events.on_call_published, self.clock.now())

    @subscribe("submission", DeadlineClosed)
    def on_deadline_closed(self, event):
        self.uow.consume(event, h.events.on_deadline_closed, self.clock.now())

    # the deadline screens a whole topic at once: one event per proposal, applied in batches
    @subscribe("submission", ProposalScreened, batch_size=100, batch_wait_ms=50)
    def on_proposal_screened(self, events):
        self.uow.consume_batch(events, partial(h.events.on_proposals_screened,
                                               now=self.clock.now()), bulk=True)

    @subscribe("submission", ProposalWithdrawn)
    def on_proposal_withdrawn(self, event):
        self.uow.consume(event, h.events.on_proposal_withdrawn, self.clock.now())

    @subscribe("submission", TimetableStageReached)
    def on_stage_reached(self, event):
        self.uow.consume(event, h.events.on_stage_reached, self.clock.now())

    @timer(interval=1.0)
    def sweep(self):
        self.on_clock_tick()

    def on_clock_tick(self):
        return len(h.assigning.sweep(self.uow, self.solver, self.clock))

    # ------------------------------------------------------------ experts (operations)
    @api("POST", "/experts/import", roles=OPS)
    def import_experts(self, request, principal):
        kind = request.content_type or ""
        body = None if kind.startswith("text/csv") else json_body(request)
        parsed = h.experts.parse_import(kind, request.get_data(as_text=True), body)
        return h.experts.import_experts(self.uow, self.solver, self.clock, parsed, principal.email)

    @api("GET", "/experts", roles=OPS)
    def list_experts(self, request, principal):
        return h.experts.list_experts(self.uow)

    @api("GET", "/experts/<expert_id>", roles=OPS)
    def get_expert(self, request, expert_id, principal):
        return h.experts.get_expert(self.uow, expert_id)

    @api("PATCH", "/experts/<expert_id>", roles=OPS)
    def edit_expert(self, request, expert_id, principal):
        return h.experts.edit(self.uow, self.solver, self.clock, expert_id, json_body(request),
                              principal.email)

    @api("POST", "/experts/<expert_id>/deactivate", roles=OPS)
    def deactivate_expert(self, request, expert_id, principal):
        return h.experts.set_active(self.uow, self.solver, self.clock, expert_id, False,
                                    principal.email)

    @api("POST", "/experts/<expert_id>/reactivate", roles=OPS)
    def reactivate_expert(self, request, expert_id, principal):
        return h.experts.set_active(self.uow, self.solver, self.clock, expert_id, True,
                                    principal.email)

    # ------------------------------------------------------------ assignment (operations)
    @api("POST", "/calls/<call_id>/assignment", roles=OPS)
    def run_assignment(self, request, call_id, principal):
        body = RunSchema().load(json_body(request))
        return h.assigning.run_initial_command(self.uow, self.solver, self.clock, call_id,
                                               body["topics"], principal.email)

    @api("POST", "/calls/<call_id>/assignment/repair", roles=OPS)
    def repair_assignment(self, request, call_id, principal):
        return h.assigning.run_repair_command(self.uow, self.solver, self.clock, call_id,
                                              principal.email)

    @api("POST", "/proposals/<proposal_id>/override", roles=OPS)
    def override(self, request, proposal_id, principal):
        body = OverrideSchema().load(json_body(request))
        return h.assigning.override(self.uow, self.solver, self.clock, proposal_id, body,
                                    principal.email)

    @api("POST", "/proposals/<proposal_id>/extra-evaluator", roles=OPS)
    def extra_evaluator(self, request, proposal_id, principal):
        return h.assigning.request_extra_evaluator(self.uow, self.solver, self.clock,
                                                   proposal_id, principal.email)

    @api("POST", "/conflicts", roles=OPS)
    def declare_conflict_ops(self, request, principal):
        body = OperationsConflictSchema().load(json_body(request))
        return h.evaluators.declare_by_ops(self.uow, self.solver, self.clock, body,
                                           principal.email)

    @api("GET", "/conflicts", roles=OPS)
    def list_conflicts(self, request, principal):
        return h.evaluators.list_declarations(self.uow, request.args.get("proposal_id"),
                                              request.args.get("expert_id"))

    @api("GET", "/assignments", roles=OPS)
    def list_assignments(self, request, principal):
        return h.views.list_assignments(self.uow, request.args.get("topic_id"),
                                        request.args.get("expert_id"))

    @api("GET", "/loads", roles=OPS)
    def loads(self, request, principal):
        return h.views.loads(self.uow)

    @api("GET", "/assignment-runs", roles=OPS)
    def assignment_runs(self, request, principal):
        return h.views.runs(self.uow)

    # ------------------------------------------------------------ progress (operations)
    @api("GET", "/calls/<call_id>/topics", roles=OPS)
    def call_topics(self, request, call_id, principal):
        return h.views.call_topics(self.uow, call_id)

    @api("GET", "/proposals/<proposal_id>/evaluation", roles=OPS)
    def proposal_evaluation(self, request, proposal_id, principal):
        return h.views.proposal_evaluation(self.uow, proposal_id)

    @api("POST", "/proposals/<proposal_id>/consensus-note", roles=OPS + EVALUATOR)
    def consensus_note(self, request, proposal_id, principal):
        body = NoteSchema().load(json_body(request))
        return h.evaluators.record_note(self.uow, self.clock, principal, proposal_id,
                                        body["text"])

    @api("GET", "/calls/<call_id>/topics/<topic_id>/ranking", roles=OPS)
    def get_ranking(self, request, call_id, topic_id, principal):
        return h.views.ranking(self.uow, call_id, topic_id)

    @api("POST", "/calls/<call_id>/topics/<topic_id>/ranking", roles=OPS)
    def publish_ranking(self, request, call_id, topic_id, principal):
        body = PublishRankingSchema().load(json_body(request))
        return h.views.publish_ranking(self.uow, self.clock, call_id, topic_id, body["force"])

    # ------------------------------------------------------------ evaluators
    @api("GET", "/me/assignments", roles=EVALUATOR)
    def my_assignments(self, request, principal):
        return h.evaluators.my_assignments(self.uow, principal.email)

    @api("GET", "/me/assignments/<proposal_id>", roles=EVALUATOR)
    def my_assignment(self, request, proposal_id, principal):
        return h.evaluators.my_assignment(self.uow, principal.email, proposal_id)

    @api("PUT", "/me/assignments/<proposal_id>/report", roles=EVALUATOR)
    def save_report(self, request, proposal_id, principal):
        body = ReportSchema().load(json_body(request))
        return h.evaluators.save_report(self.uow, self.clock, principal.email, proposal_id,
                                        body, "individual")

    @api("POST", "/me/assignments/<proposal_id>/report/final", roles=EVALUATOR)
    def finalise_report(self, request, proposal_id, principal):
        return h.evaluators.finalise_report(self.uow, self.clock, principal.email, proposal_id,
                                            "individual")

    @api("PUT", "/me/assignments/<proposal_id>/consensus-report", roles=EVALUATOR)
    def save_consensus_report(self, request, proposal_id, principal):
        body = ReportSchema().load(json_body(request))
        return h.evaluators.save_report(self.uow, self.clock, principal.email, proposal_id,
                                        body, "consensus")

    @api("POST", "/me/assignments/<proposal_id>/consensus-report/final", roles=EVALUATOR)
    def finalise_consensus_report(self, request, proposal_id, principal):
        return h.evaluators.finalise_report(self.uow, self.clock, principal.email, proposal_id,
                                            "consensus")

    @api("POST", "/me/assignments/<proposal_id>/conflict", roles=EVALUATOR)
    def declare_conflict(self, request, proposal_id, principal):
        body = ReasonSchema().load(json_body(request))
        return h.evaluators.declare_conflict(self.uow, self.solver, self.clock, principal.email,
                                             proposal_id, body["reason"])

    @api("POST", "/me/assignments/<proposal_id>/decline", roles=EVALUATOR)
    def decline(self, request, proposal_id, principal):
        body = DeclineSchema().load(json_body(request))
        return h.evaluators.decline(self.uow, self.solver, self.clock, principal.email,
                                    proposal_id, body["reason"])

    # ------------------------------------------------------------ summary reports
    @api("GET", "/proposals/<proposal_id>/summary", roles=("applicant", "operations"))
    def summary(self, request, proposal_id, principal):
        return h.views.summary(self.uow, principal, proposal_id)

    @api("GET", "/proposals/<proposal_id>/summary.html", roles=("applicant", "operations"))
    def summary_html(self, request, proposal_id, principal):
        html = h.views.summary_html(self.uow, principal, proposal_id)
        return Response(html, mimetype="text/html")
