"""The evaluation service: experts, conflicts of interest, optimal assignment with repair,
reports, consensus, ranking within the budget, summary reports (nameko entrypoints that
only translate between HTTP/events and handlers; the API is described in README.md)."""
from __future__ import annotations

from functools import partial

from nameko.timer import timer
from werkzeug.wrappers import Response

from services.evaluation import handlers
from services.evaluation.adapters.solver_provider import SolverProvider
from services.evaluation.handlers.pages import announce
from services.evaluation.pages import views as pages
from services.evaluation.schemas import (
    DeclineSchema, NoteSchema, OperationsConflictSchema, OverrideSchema, PublishRankingSchema,
    ReasonSchema, ReportSchema, RunSchema)
from shared.csvexport import csv_response
from shared.db.provider import UnitOfWorkProvider
from shared.events import (
    CallPublished, DeadlineClosed, ProposalScreened, ProposalWithdrawn, TimetableStageReached)
from shared.messaging.consumer import subscribe
from shared.pages.signin_views import sign_in_routes
from shared.pages.route import html, static_file
from shared.service import ServiceBase
from shared.openapi import doc
from shared.documents.web import pdf_response
from shared.web import api, json_body

OPS, EVALUATOR = ("operations",), ("evaluator",)
#: an expert file: CSV text, or JSON {"experts": [...]}; a few thousand experts fit
EXPERT_FILE = {"application/json": {"type": "object"}, "text/csv": {"type": "string"}}
EXPERT_FILE_LIMIT = 8 * 1024 * 1024
AFFINITY_FILE = {"text/csv": {"type": "string"}, "application/json": {"type": "object"}}
h = handlers


class EvaluationService(ServiceBase, sign_in_routes("review", announce)):
    name = "evaluation"
    uow = UnitOfWorkProvider("services.evaluation:migrations")
    solver = SolverProvider()

    # ------------------------------------------------------------ events (submission)
    @subscribe("submission", CallPublished)
    def on_call_published(self, event):
        self.uow.consume(event, h.events.on_call_published, self.clock.now())

    @subscribe("submission", DeadlineClosed, prefetch=1)  # a topic per message: one at a time
    def on_deadline_closed(self, event):
        self.uow.consume(event, h.events.on_deadline_closed, self.clock.now())
        if event.manifest:  # the topic's assignment follows (an empty topic has none)
            self.solver.prepare()

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
        return sum(outcome.did_work
                   for outcome in h.assigning.sweep(self.uow, self.solver, self.clock))

    # ------------------------------------------------------------ experts (operations)
    @api("POST", "/experts/import", roles=OPS, max_body=EXPERT_FILE_LIMIT)
    @doc("Import or update experts (CSV or JSON {experts: [...]})", body=EXPERT_FILE,
         errors=(404, 409))
    def import_experts(self, request, principal):
        kind = request.content_type or ""
        body = None if kind.startswith("text/csv") else json_body(request)
        parsed = h.experts.parse_import(kind, request.get_data(as_text=True), body)
        return h.experts.import_experts(self.uow, self.solver, self.clock, parsed, principal.email)

    @api("POST", "/affinities/import", roles=OPS, max_body=h.affinities.MAX_BYTES)
    @doc("Import affinity scores (CSV expert_id,proposal_id,score in [0, 1], or JSON "
         "{csv: TEXT}); all or nothing", body=AFFINITY_FILE, errors=(404, 413))
    def import_affinities(self, request, principal):
        text = h.affinities.read_csv(request)
        return h.affinities.import_affinities(self.uow, self.clock, text, principal.email)

    @api("GET", "/experts", roles=OPS)
    @doc("Every expert with their load", response="array")
    def list_experts(self, request, principal):
        return h.experts.list_experts(self.uow)

    @api("GET", "/experts/<expert_id>", roles=OPS)
    @doc("One expert", errors=(404,))
    def get_expert(self, request, expert_id, principal):
        return h.experts.get_expert(self.uow, expert_id)

    @api("PATCH", "/experts/<expert_id>", roles=OPS)
    @doc("Change an expert's fields", body="object", errors=(404, 409))
    def edit_expert(self, request, expert_id, principal):
        return h.experts.edit(self.uow, self.solver, self.clock, expert_id, json_body(request),
                              principal.email)

    @api("POST", "/experts/<expert_id>/deactivate", roles=OPS)
    @doc("Stop assigning an expert (their assignments are repaired)", errors=(404, 409))
    def deactivate_expert(self, request, expert_id, principal):
        return h.experts.set_active(self.uow, self.solver, self.clock, expert_id, False,
                                    principal.email)

    @api("POST", "/experts/<expert_id>/reactivate", roles=OPS)
    @doc("Assign an expert again", errors=(404, 409))
    def reactivate_expert(self, request, expert_id, principal):
        return h.experts.set_active(self.uow, self.solver, self.clock, expert_id, True,
                                    principal.email)

    # ------------------------------------------------------------ assignment (operations)
    @api("POST", "/calls/<call_id>/assignment", roles=OPS)
    @doc("Assign evaluators to the call's eligible proposals", body=RunSchema, errors=(404, 409))
    def run_assignment(self, request, call_id, principal):
        body = RunSchema().load(json_body(request))
        return h.assigning.run_initial_command(self.uow, self.solver, self.clock, call_id,
                                               body["topics"], principal.email)

    @api("POST", "/calls/<call_id>/assignment/repair", roles=OPS)
    @doc("Repair the assignment after releases", errors=(404, 409))
    def repair_assignment(self, request, call_id, principal):
        return h.assigning.run_repair_command(self.uow, self.solver, self.clock, call_id,
                                              principal.email)

    @api("POST", "/proposals/<proposal_id>/override", roles=OPS)
    @doc("Release or assign experts by hand, with a reason", body=OverrideSchema, errors=(404, 409))
    def override(self, request, proposal_id, principal):
        body = OverrideSchema().load(json_body(request))
        return h.assigning.override(self.uow, self.solver, self.clock, proposal_id, body,
                                    principal.email)

    @api("POST", "/proposals/<proposal_id>/extra-evaluator", roles=OPS)
    @doc("Ask for one more evaluator on a proposal", errors=(404, 409))
    def extra_evaluator(self, request, proposal_id, principal):
        return h.assigning.request_extra_evaluator(self.uow, self.solver, self.clock,
                                                   proposal_id, principal.email)

    @api("POST", "/conflicts", roles=OPS)
    @doc("Record a conflict of interest for an expert and a proposal",
         body=OperationsConflictSchema, errors=(404, 409))
    def declare_conflict_ops(self, request, principal):
        body = OperationsConflictSchema().load(json_body(request))
        return h.evaluators.declare_by_ops(self.uow, self.solver, self.clock, body,
                                           principal.email)

    @api("GET", "/conflicts", roles=OPS)
    @doc("Declared conflicts of interest", response="array",
         query=(("proposal_id", "string", ""), ("expert_id", "string", "")))
    def list_conflicts(self, request, principal):
        return h.evaluators.list_declarations(self.uow, request.args.get("proposal_id"),
                                              request.args.get("expert_id"))

    @api("GET", "/assignments", roles=OPS)
    @doc("Assignments, by topic or expert", response="array",
         query=(("topic_id", "string", ""), ("expert_id", "string", "")))
    def list_assignments(self, request, principal):
        return h.views.list_assignments(self.uow, request.args.get("topic_id"),
                                        request.args.get("expert_id"))

    @api("GET", "/assignments.csv", roles=OPS)
    @doc("Assignments as CSV, by topic or expert", response="csv",
         query=(("topic_id", "string", ""), ("expert_id", "string", "")))
    def export_assignments(self, request, principal):
        rows = h.views.list_assignments(self.uow, request.args.get("topic_id"),
                                        request.args.get("expert_id"))
        return csv_response(h.views.ASSIGNMENT_COLUMNS, rows, "assignments.csv")

    @api("GET", "/loads", roles=OPS)
    @doc("Each expert's load", response="array")
    def loads(self, request, principal):
        return h.views.loads(self.uow)

    @api("GET", "/assignment-runs", roles=OPS)
    @doc("Assignment runs and their figures", response="array")
    def assignment_runs(self, request, principal):
        return h.views.runs(self.uow)

    # ------------------------------------------------------------ progress (operations)
    @api("GET", "/calls/<call_id>/topics", roles=OPS)
    @doc("Evaluation progress per topic", response="array", errors=(404,))
    def call_topics(self, request, call_id, principal):
        return h.views.call_topics(self.uow, call_id)

    @api("GET", "/proposals/<proposal_id>/evaluation", roles=OPS)
    @doc("A proposal's evaluators, reports and consensus", errors=(404,))
    def proposal_evaluation(self, request, proposal_id, principal):
        return h.views.proposal_evaluation(self.uow, proposal_id)

    @api("POST", "/proposals/<proposal_id>/consensus-note", roles=OPS + EVALUATOR)
    @doc("Add a note to a proposal's consensus", body=NoteSchema, errors=(404, 409))
    def consensus_note(self, request, proposal_id, principal):
        body = NoteSchema().load(json_body(request))
        return h.evaluators.record_note(self.uow, self.clock, principal, proposal_id,
                                        body["text"])

    @api("GET", "/calls/<call_id>/topics/<topic_id>/ranking", roles=OPS)
    @doc("A topic's ranking (provisional until published)", errors=(404,))
    def get_ranking(self, request, call_id, topic_id, principal):
        return h.views.ranking(self.uow, call_id, topic_id)

    @api("GET", "/calls/<call_id>/rankings.csv", roles=OPS)
    @doc("The ranking lists as CSV (every topic, or one)", response="csv", errors=(404,),
         query=(("topic_id", "string", "one topic"),))
    def export_rankings(self, request, call_id, principal):
        rows = h.views.ranking_rows(self.uow, call_id, request.args.get("topic_id"))
        return csv_response(h.views.RANKING_COLUMNS, rows, f"rankings-{call_id}.csv")

    @api("POST", "/calls/<call_id>/topics/<topic_id>/ranking", roles=OPS)
    @doc("Publish a topic's ranking", body=PublishRankingSchema, errors=(404, 409))
    def publish_ranking(self, request, call_id, topic_id, principal):
        body = PublishRankingSchema().load(json_body(request))
        return h.views.publish_ranking(self.uow, self.clock, call_id, topic_id, body["force"])

    # ------------------------------------------------------------ evaluators
    @api("GET", "/me/assignments", roles=EVALUATOR)
    @doc("Your assignments (404: you are not an expert of the pool)", response="array",
         errors=(404,))
    def my_assignments(self, request, principal):
        return h.evaluators.my_assignments(self.uow, principal.email)

    @api("GET", "/me/assignments/<proposal_id>", roles=EVALUATOR)
    @doc("One of your assignments, with the proposal", errors=(404,))
    def my_assignment(self, request, proposal_id, principal):
        return h.evaluators.my_assignment(self.uow, principal.email, proposal_id)

    @api("PUT", "/me/assignments/<proposal_id>/report", roles=EVALUATOR)
    @doc("Save your report (a draft until final)", body=ReportSchema, errors=(404, 409))
    def save_report(self, request, proposal_id, principal):
        body = ReportSchema().load(json_body(request))
        return h.evaluators.save_report(self.uow, self.clock, principal.email, proposal_id,
                                        body, "individual")

    @api("POST", "/me/assignments/<proposal_id>/report/final", roles=EVALUATOR)
    @doc("Submit your report as final", errors=(404, 409))
    def finalise_report(self, request, proposal_id, principal):
        return h.evaluators.finalise_report(self.uow, self.clock, principal.email, proposal_id,
                                            "individual")

    @api("PUT", "/me/assignments/<proposal_id>/consensus-report", roles=EVALUATOR)
    @doc("Save the consensus report (rapporteur)", body=ReportSchema, errors=(404, 409))
    def save_consensus_report(self, request, proposal_id, principal):
        body = ReportSchema().load(json_body(request))
        return h.evaluators.save_report(self.uow, self.clock, principal.email, proposal_id,
                                        body, "consensus")

    @api("POST", "/me/assignments/<proposal_id>/consensus-report/final", roles=EVALUATOR)
    @doc("Submit the consensus report as final", errors=(404, 409))
    def finalise_consensus_report(self, request, proposal_id, principal):
        return h.evaluators.finalise_report(self.uow, self.clock, principal.email, proposal_id,
                                            "consensus")

    @api("POST", "/me/assignments/<proposal_id>/conflict", roles=EVALUATOR)
    @doc("Declare a conflict of interest (you are released)", body=ReasonSchema, errors=(404, 409))
    def declare_conflict(self, request, proposal_id, principal):
        body = ReasonSchema().load(json_body(request))
        return h.evaluators.declare_conflict(self.uow, self.solver, self.clock, principal.email,
                                             proposal_id, body["reason"])

    @api("POST", "/me/assignments/<proposal_id>/decline", roles=EVALUATOR)
    @doc("Decline an assignment (you are released)", body=DeclineSchema, errors=(404, 409))
    def decline(self, request, proposal_id, principal):
        body = DeclineSchema().load(json_body(request))
        return h.evaluators.decline(self.uow, self.solver, self.clock, principal.email,
                                    proposal_id, body["reason"])

    # ------------------------------------------------------------ summary reports
    @api("GET", "/proposals/<proposal_id>/summary", roles=("applicant", "operations"))
    @doc("The evaluation summary report of a proposal", errors=(404, 409))
    def summary(self, request, proposal_id, principal):
        return h.views.summary(self.uow, principal, proposal_id)

    @api("GET", "/proposals/<proposal_id>/summary.html", roles=("applicant", "operations"))
    @doc("The evaluation summary report as HTML", response="html", errors=(404, 409))
    def summary_html(self, request, proposal_id, principal):
        html = h.views.summary_html(self.uow, principal, proposal_id)
        return Response(html, mimetype="text/html")

    @api("GET", "/proposals/<proposal_id>/summary.pdf", roles=("applicant", "operations"))
    @doc("The evaluation summary report as PDF", response="pdf", errors=(404, 409))
    def summary_pdf(self, request, proposal_id, principal):
        pdf = h.views.summary_pdf(self.uow, principal, proposal_id)
        return pdf_response(pdf, f"summary-{proposal_id}.pdf")

    # ------------------------------------------------------------ evaluators' pages
    @html("GET", "/review/static/<name>", audience="review", signed_in=False)
    def page_static(self, request, name, page):
        return static_file(name)

    @html("GET", "/review/", audience="review")
    def page_assignments(self, request, page):
        return pages.assignments(page, self.uow)

    @html("GET", "/review/assignments/<proposal_id>", audience="review")
    def page_assignment(self, request, proposal_id, page):
        return pages.assignment(page, self.uow, proposal_id)

    @html("POST", "/review/assignments/<proposal_id>/conflict", audience="review")
    def page_conflict(self, request, proposal_id, page):
        return pages.declare_conflict(page, self.uow, self.solver, self.clock, proposal_id)

    @html("POST", "/review/assignments/<proposal_id>/decline", audience="review")
    def page_decline(self, request, proposal_id, page):
        return pages.decline(page, self.uow, self.solver, self.clock, proposal_id)

    @html("GET", "/review/assignments/<proposal_id>/<form_kind>", audience="review")
    def page_report(self, request, proposal_id, form_kind, page):
        return pages.report_form(page, self.uow, proposal_id, form_kind)

    @html("POST", "/review/assignments/<proposal_id>/<form_kind>", audience="review")
    def page_save_report(self, request, proposal_id, form_kind, page):
        return pages.save_report(page, self.uow, self.clock, proposal_id, form_kind)

    @html("GET", "/review/assignments/<proposal_id>/<form_kind>/finalise", audience="review")
    def page_confirm_finalise(self, request, proposal_id, form_kind, page):
        return pages.confirm_finalise(page, self.uow, proposal_id, form_kind)

    @html("POST", "/review/assignments/<proposal_id>/<form_kind>/finalise", audience="review")
    def page_finalise(self, request, proposal_id, form_kind, page):
        return pages.finalise(page, self.uow, self.clock, proposal_id, form_kind)

    # ------------------------------------------------------------ applicants' results page
    @html("GET", "/apply/results/<proposal_id>", audience="apply")
    def page_results(self, request, proposal_id, page):
        return pages.results(page, self.uow, proposal_id)
