"""The submission service: calls, proposals until an exact deadline, the closing manifest,
screening, and the call timetable that drives the pipeline (nameko entrypoints that only
translate between HTTP/events/timer and handlers). API: services/submission/README.md."""
from __future__ import annotations

from nameko.dependency_providers import Config
from nameko.timer import timer

from services.submission import handlers, httpio, openapi, schemas as s
from services.submission.handlers import partners, questions
from services.submission.handlers.evaluators import (on_evaluator_assigned,
                                                     on_evaluator_released)
from services.submission.handlers.precheck import precheck
from services.submission.handlers.sign_in import announce
from services.submission.openapi import doc
from services.submission.pages import board, views
from shared.db.provider import UnitOfWorkProvider
from shared.events import EvaluatorAssigned, EvaluatorReleased, RankingPublished
from shared.messaging.consumer import subscribe
from shared.pages.signin_views import sign_in_routes
from shared.pages.route import html, static_file
from shared.service import ServiceBase
from shared.web import api

APPLICANTS = ("applicant", "operations")
OPERATIONS = ("operations",)
ANYONE = None  # any authenticated caller


def upload_limit(config: dict) -> int:
    """Bytes of an upload form: the configured part limit and room for the form."""
    return int((config.get("SUBMISSION") or {}).get("part_max_bytes",
                                                    handlers.DEFAULT_PART_LIMIT)) + 65536


class SubmissionService(ServiceBase, sign_in_routes("apply", announce)):
    name = "submission"
    openapi_info = (openapi.TITLE, openapi.DESCRIPTION)
    openapi_fields = openapi.FIELD_TYPES
    uow = UnitOfWorkProvider("services.submission:migrations")
    config = Config()

    @property
    def part_limit(self) -> int:
        return int((self.config.get("SUBMISSION") or {}).get(
            "part_max_bytes", handlers.DEFAULT_PART_LIMIT))

    # ------------------------------------------------------------------ calls
    @api("POST", "/calls", roles=OPERATIONS)
    @doc("Publish a call version (YAML body, or JSON {yaml}); 200 if already published",
         body=openapi.CALL_SOURCE, response=s.CallLoadedSchema, status=201, errors=(400, 409, 422))
    def load_call(self, request, principal):
        return handlers.load_call(self.uow, principal, httpio.call_source(request),
                                  self.clock.now())

    @api("GET", "/calls", roles=ANYONE)
    @doc("Published calls (newest version of each)", response=[s.CallSummarySchema])
    def list_calls(self, request, principal):
        return handlers.list_calls(self.uow)

    @api("GET", "/calls/<call_id>", roles=ANYONE)
    @doc("A call version (newest unless ?version=N) with its history", response=s.CallSchema,
         errors=(400, 404), query=(("version", "integer", "a published version"),))
    def get_call(self, request, call_id, principal):
        return handlers.get_call(self.uow, call_id, httpio.int_arg(request, "version", None, 1))

    @api("GET", "/calls/<call_id>/timetable", roles=ANYONE)
    @doc("Each milestone in UTC and local time, fired or not, and the current stage",
         response=s.TimetableSchema, errors=(404,))
    def call_timetable(self, request, call_id, principal):
        return handlers.call_timetable(self.uow, call_id, self.clock.now())

    @api("GET", "/calls/<call_id>/topics/<topic_id>/manifest", roles=ANYONE)
    @doc("The closing manifest of a topic and its hash", response=s.ManifestSchema,
         errors=(404,))
    def topic_manifest(self, request, call_id, topic_id, principal):
        return handlers.manifest(self.uow, call_id, topic_id)

    # ------------------------------------------------------------------ timetable
    @api("POST", "/timetable/tick", roles=OPERATIONS)
    @doc("Fire every due milestone now; returns what this request fired and the "
         "deadlines left half-done for the next tick (pending)", response=s.TickSchema)
    def tick(self, request, principal):
        now = self.clock.now()
        report = handlers.tick_timetable(self.uow, now)
        return {"now": now.isoformat(), "fired": report.fired, "pending": report.pending}

    @timer(interval=1.0)
    def drive_timetable(self):
        self.on_clock_tick()

    def on_clock_tick(self):
        return len(handlers.tick_timetable(self.uow, self.clock.now()).fired)

    # ------------------------------------------------------------------ proposals
    @api("POST", "/proposals", roles=APPLICANTS, max_body=httpio.form_body_limit)
    @doc("Create a draft", body=s.ProposalCreateSchema, response=s.ProposalSchema,
         status=201, errors=(400, 409, 413, 422))
    def create_proposal(self, request, principal):
        return 201, handlers.create(self.uow, principal, httpio.load(s.ProposalCreateSchema,
                                                                     request),
                                    self.clock.now(), self.part_limit,
                                    id_seed=httpio.id_seed(request, principal, self.config,
                                                           "proposal"))

    @api("GET", "/proposals", roles=APPLICANTS)
    @doc("Proposals you are a contact of (operations: all), oldest first",
         response=[s.ProposalSummarySchema], errors=(400,),
         query=s.query_doc(s.ProposalListQuery))
    def list_proposals(self, request, principal):
        return handlers.listing(self.uow, principal,
                                **s.load_query(s.ProposalListQuery, request.args))

    @api("GET", "/proposals/<proposal_id>", roles=APPLICANTS)
    @doc("A proposal: working copy, versions, screening", response=s.ProposalSchema,
         errors=(404,))
    def get_proposal(self, request, proposal_id, principal):
        return handlers.get(self.uow, principal, proposal_id)

    @api("PATCH", "/proposals/<proposal_id>", roles=APPLICANTS, max_body=httpio.form_body_limit)
    @doc("Edit the working copy (before the deadline)", body=s.ProposalPatchSchema,
         response=s.ProposalSchema, errors=(400, 404, 409, 413, 422))
    def edit_proposal(self, request, proposal_id, principal):
        return handlers.update(self.uow, principal, proposal_id,
                               httpio.load(s.ProposalPatchSchema, request), self.clock.now(),
                               self.part_limit)

    @api("POST", "/proposals/<proposal_id>/submit", roles=APPLICANTS)
    @doc("Submit, or resubmit a new version; the receipt", response=s.ReceiptSchema,
         errors=(404, 409))
    def submit_proposal(self, request, proposal_id, principal):
        return handlers.submit(self.uow, principal, proposal_id, self.clock)

    @api("POST", "/proposals/<proposal_id>/withdraw", roles=APPLICANTS)
    @doc("Withdraw (until the topic's ranking is published)", body=s.WithdrawSchema,
         response=s.ProposalSchema, errors=(400, 404, 409, 422))
    def withdraw_proposal(self, request, proposal_id, principal):
        return handlers.withdraw(self.uow, principal, proposal_id,
                                 httpio.load(s.WithdrawSchema, request)["reason"],
                                 self.clock.now())

    @api("GET", "/proposals/<proposal_id>/versions/<int:number>", roles=APPLICANTS)
    @doc("One submitted version as received", response=s.VersionSchema, errors=(404,))
    def get_version(self, request, proposal_id, number, principal):
        return handlers.version(self.uow, principal, proposal_id, number)

    @api("PUT", "/proposals/<proposal_id>/parts/<name>", roles=APPLICANTS,
         max_body=httpio.part_body_limit)
    @doc("Upload a part as the raw body (?filename=)", body="binary",
         response=s.ProposalSchema, errors=(404, 409, 413, 422),
         query=(("filename", "string", "the file's name"),))
    def put_part(self, request, proposal_id, name, principal):
        data, filename, media_type = httpio.raw_part(request, self.part_limit)
        return handlers.put_part(self.uow, principal, proposal_id, name, data, filename,
                                 self.clock.now(), media_type)

    @api("GET", "/proposals/<proposal_id>/parts/<name>", roles=APPLICANTS)
    @doc("Download a part (of the working copy, or ?version=N)", response="binary",
         errors=(400, 404), query=(("version", "integer", "a submitted version"),))
    def get_part(self, request, proposal_id, name, principal):
        return httpio.download(*handlers.part_content(
            self.uow, principal, proposal_id, name, httpio.int_arg(request, "version", None, 1)))

    @api("DELETE", "/proposals/<proposal_id>/parts/<name>", roles=APPLICANTS)
    @doc("Remove a part from the working copy", response=s.ProposalSchema,
         errors=(404, 409))
    def delete_part(self, request, proposal_id, name, principal):
        return handlers.remove_part(self.uow, principal, proposal_id, name, self.clock.now())

    # ------------------------------------------------------------------ partner search
    @api("POST", "/calls/<call_id>/topics/<topic_id>/partner-profiles", roles=("applicant",))
    @doc("Publish your organisation's partner profile for a topic (200: a withdrawn one "
         "published again)", body=s.PartnerProfileBodySchema, response=s.PartnerProfileSchema,
         status=201, errors=(400, 404, 409, 422))
    def publish_partner_profile(self, request, call_id, topic_id, principal):
        return partners.publish(self.uow, principal, call_id, topic_id,
                                httpio.load(s.PartnerProfileBodySchema, request),
                                self.clock.now())

    @api("GET", "/calls/<call_id>/topics/<topic_id>/partner-profiles", roles=APPLICANTS)
    @doc("Search the topic's published partner profiles", response=s.PartnerSearchSchema,
         errors=(400, 404), query=s.query_doc(s.PartnerSearchQuery))
    def search_partner_profiles(self, request, call_id, topic_id, principal):
        return partners.search(self.uow, principal, call_id, topic_id,
                               **s.load_query(s.PartnerSearchQuery, request.args))

    @api("GET", "/partner-profiles", roles=APPLICANTS)
    @doc("Your own partner profiles (withdrawn ones too)", response=[s.PartnerProfileSchema])
    def my_partner_profiles(self, request, principal):
        return partners.mine(self.uow, principal)

    @api("GET", "/partner-profiles/<profile_id>", roles=APPLICANTS)
    @doc("A partner profile", response=s.PartnerProfileSchema, errors=(404,))
    def get_partner_profile(self, request, profile_id, principal):
        return partners.get(self.uow, principal, profile_id)

    @api("PUT", "/partner-profiles/<profile_id>", roles=("applicant",))
    @doc("Replace your profile's details (before the deadline)",
         body=s.PartnerProfileBodySchema, response=s.PartnerProfileSchema,
         errors=(400, 403, 404, 409, 422))
    def edit_partner_profile(self, request, profile_id, principal):
        return partners.edit(self.uow, principal, profile_id,
                             httpio.load(s.PartnerProfileBodySchema, request), self.clock.now())

    @api("POST", "/partner-profiles/<profile_id>/withdraw", roles=APPLICANTS)
    @doc("Withdraw a profile from the search (its owner, or operations)",
         response=s.PartnerProfileSchema, errors=(403, 404))
    def withdraw_partner_profile(self, request, profile_id, principal):
        return partners.withdraw(self.uow, principal, profile_id, self.clock.now())

    # ------------------------------------------------------------------ questions and answers
    @api("POST", "/calls/<call_id>/topics/<topic_id>/questions", roles=APPLICANTS)
    @doc("Ask a question on a topic (operations: add an entry of their own)",
         body=s.QuestionAskSchema, response=s.QuestionSchema, status=201,
         errors=(400, 404, 409, 422))
    def ask_question(self, request, call_id, topic_id, principal):
        return 201, questions.ask(self.uow, principal, call_id, topic_id,
                                  httpio.load(s.QuestionAskSchema, request)["question"],
                                  self.clock.now())

    @api("GET", "/calls/<call_id>/topics/<topic_id>/questions", roles=APPLICANTS)
    @doc("Published questions and answers of a topic, and your own questions (operations: "
         "all)", response=s.QuestionListSchema, errors=(400, 404),
         query=s.query_doc(s.QuestionListQuery))
    def list_questions(self, request, call_id, topic_id, principal):
        return questions.listing(self.uow, principal, call_id, topic_id,
                                 **s.load_query(s.QuestionListQuery, request.args))

    @api("GET", "/questions/<question_id>", roles=APPLICANTS)
    @doc("A question (published, or your own)", response=s.QuestionSchema, errors=(404,))
    def get_question(self, request, question_id, principal):
        return questions.get(self.uow, principal, question_id)

    @api("PUT", "/questions/<question_id>/answer", roles=OPERATIONS)
    @doc("Write or revise the answer (and optionally rephrase the question)",
         body=s.AnswerSchema, response=s.QuestionSchema, errors=(400, 404, 422))
    def answer_question(self, request, question_id, principal):
        return questions.answer(self.uow, principal, question_id,
                                httpio.load(s.AnswerSchema, request), self.clock.now())

    @api("POST", "/questions/<question_id>/publish", roles=OPERATIONS)
    @doc("Publish the answered question to every applicant of the call (mail to each, once)",
         response=s.QuestionSchema, errors=(404, 409, 422))
    def publish_answer(self, request, question_id, principal):
        return questions.publish(self.uow, principal, question_id, self.clock.now())

    @api("GET", "/proposals/<proposal_id>/precheck", roles=APPLICANTS)
    @doc("The eligibility pre-check: the call's screening run on the working copy as if "
         "received now", response=s.PrecheckSchema, errors=(404,))
    def precheck_proposal(self, request, proposal_id, principal):
        return precheck(self.uow, principal, proposal_id, self.clock.now())

    # ------------------------------------------------------------------ events
    @subscribe("evaluation", RankingPublished, prefetch=1)  # a topic per message: one at a time
    def on_ranking_published(self, event):
        self.uow.consume(event, handlers.on_ranking_published)

    @subscribe("evaluation", EvaluatorAssigned)
    def on_evaluator_assigned(self, event):
        self.uow.consume(event, on_evaluator_assigned)

    @subscribe("evaluation", EvaluatorReleased)
    def on_evaluator_released(self, event):
        self.uow.consume(event, on_evaluator_released)

    # ------------------------------------------------------------------ applicants' pages
    @html("GET", "/apply/static/<name>", audience="apply", signed_in=False)
    def page_static(self, request, name, page):
        return static_file(name)

    @html("GET", "/apply/", audience="apply")
    def page_home(self, request, page):
        return views.home(page, self.uow)

    @html("GET", "/apply/calls/<call_id>/new", audience="apply")
    def page_new(self, request, call_id, page):
        return views.new_form(page, self.uow, call_id)

    @html("POST", "/apply/calls/<call_id>/new", audience="apply")
    def page_create(self, request, call_id, page):
        return views.create(page, self.uow, call_id, self.part_limit)

    @html("GET", "/apply/proposals/<proposal_id>", audience="apply")
    def page_proposal(self, request, proposal_id, page):
        return views.proposal(page, self.uow, proposal_id)

    @html("POST", "/apply/proposals/<proposal_id>", audience="apply")
    def page_save(self, request, proposal_id, page):
        return views.save(page, self.uow, proposal_id, self.part_limit)

    @html("POST", "/apply/proposals/<proposal_id>/parts/<name>", audience="apply",
          max_body=upload_limit)
    def page_upload(self, request, proposal_id, name, page):
        return views.upload(page, self.uow, proposal_id, name, self.part_limit)

    @html("GET", "/apply/proposals/<proposal_id>/parts/<name>", audience="apply")
    def page_part(self, request, proposal_id, name, page):
        return views.part(page, self.uow, proposal_id, name)

    @html("POST", "/apply/proposals/<proposal_id>/parts/<name>/remove", audience="apply")
    def page_remove_part(self, request, proposal_id, name, page):
        return views.remove_part(page, self.uow, proposal_id, name)

    @html("POST", "/apply/proposals/<proposal_id>/submit", audience="apply")
    def page_submit(self, request, proposal_id, page):
        return views.submit(page, self.uow, proposal_id, self.clock)

    @html("GET", "/apply/proposals/<proposal_id>/versions/<int:number>", audience="apply")
    def page_version(self, request, proposal_id, number, page):
        return views.version(page, self.uow, proposal_id, number)

    @html("POST", "/apply/proposals/<proposal_id>/withdraw", audience="apply")
    def page_withdraw(self, request, proposal_id, page):
        return views.withdraw(page, self.uow, proposal_id)

    # ------------------------------------------------------------------ partner search, Q&A pages
    @html("GET", "/apply/calls/<call_id>/topics/<topic_id>/partners", audience="apply")
    def page_partners(self, request, call_id, topic_id, page):
        return board.search(page, self.uow, call_id, topic_id)

    @html("GET", "/apply/calls/<call_id>/topics/<topic_id>/partners/profile", audience="apply")
    def page_partner_profile(self, request, call_id, topic_id, page):
        return board.profile_form(page, self.uow, call_id, topic_id)

    @html("POST", "/apply/calls/<call_id>/topics/<topic_id>/partners/profile",
          audience="apply")
    def page_save_partner_profile(self, request, call_id, topic_id, page):
        return board.save_profile(page, self.uow, call_id, topic_id)

    @html("POST", "/apply/partner-profiles/<profile_id>/withdraw", audience="apply")
    def page_withdraw_partner_profile(self, request, profile_id, page):
        return board.withdraw_profile(page, self.uow, profile_id)

    @html("GET", "/apply/calls/<call_id>/topics/<topic_id>/questions", audience="apply")
    def page_questions(self, request, call_id, topic_id, page):
        return board.questions_page(page, self.uow, call_id, topic_id)

    @html("POST", "/apply/calls/<call_id>/topics/<topic_id>/questions", audience="apply")
    def page_ask(self, request, call_id, topic_id, page):
        return board.ask(page, self.uow, call_id, topic_id)

    @html("GET", "/review/parts/<proposal_id>/<name>", audience="review")
    def page_assigned_part(self, request, proposal_id, name, page):
        return views.assigned_part_download(page, self.uow, proposal_id, name)
