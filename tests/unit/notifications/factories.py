"""A realistic AMIF-2018-AG-INTE call and the events notifications receives about it."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.calls.model import (Call, Criterion, EvaluationRules, GrantRules, Rule, Stage,
                                Topic)
from shared.events import (AnswerPublished, ApplicantSignInRequested, CallPublished,
                           EvaluationCompleted, EvaluatorAssigned, EvaluatorReleased,
                           EvaluatorSignInRequested, GrantDeclined, GrantPreparationStarted,
                           GrantSignatureRequested, GrantSigned, ProposalScreened,
                           ProposalSubmitted, ProposalWithdrawn, RankingPublished,
                           ReservePromoted, TimeTargetBreached, TimetableStageReached)

BRUSSELS = ZoneInfo("Europe/Brussels")
CALL_ID = "AMIF-2018-AG-INTE"
TOPIC = "AMIF-2018-AG-INTE-1"
DEADLINE = datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)
RELEASE_AT = datetime(2019, 7, 1, 9, 0, tzinfo=BRUSSELS)
OPS = ("ops@grantflow.example.eu", "Duty@Grantflow.example.eu")
AUTHORITY = "grants-authority@home-affairs.example.eu"
CONTACTS = ["Anna.Rossi@comune.example.it", "office@comune.example.it",
            "anna.rossi@comune.example.it"]  # one address twice, in two spellings


def make_call() -> Call:
    return Call(
        id=CALL_ID, version=2, title="Integration of third-country nationals",
        timezone="Europe/Brussels", currency="EUR", budget=Decimal("16200000"),
        topics=(Topic(TOPIC, "Local and regional integration networks", Decimal("6000000")),),
        timetable=(Stage("submission_deadline", "Submission deadline", DEADLINE),
                   Stage("information_to_applicants", "Information to applicants", RELEASE_AT,
                         datetime(2019, 7, 31, 17, 0, tzinfo=BRUSSELS))),
        required_parts=("part_a", "part_b", "budget"),
        eligibility=(Rule("no_danish_entities", description="No applicant or co-applicant "
                          "may be established in Denmark."),),
        evaluation=EvaluationRules(
            evaluators_per_proposal=2,
            criteria=(Criterion("relevance", "Relevance", Decimal(30), Decimal(21)),
                      Criterion("quality", "Quality of the project", Decimal(20)),
                      Criterion("cost_effectiveness", "Cost-effectiveness", Decimal(15)),
                      Criterion("added_value", "European added value", Decimal(15)),
                      Criterion("impact", "Expected results and impact", Decimal(20))),
            overall_threshold=Decimal(70),
            tie_break=("relevance", "quality", "cost_effectiveness", "added_value", "impact")),
        grants=GrantRules(cofinancing_cap=Decimal("0.90"), preparation_days=60,
                          signature_days=120, prefinancing_rate=Decimal("0.40")))


def envelope(proposal_id="P-0042", at=RELEASE_AT, **kw):
    return dict(call_id=CALL_ID, correlation_id=proposal_id, occurred_at=at, **kw)


SNAPSHOT = {"acronym": "CITYNET", "title": "Cities networking for integration",
            "abstract": "...", "integration_areas": ["housing"], "duration_months": 36,
            "total_eligible_costs": Decimal("1000000"), "requested_grant": Decimal("900000"),
            "participants": []}

FAILED_RULES = [
    {"rule": "minimum_partners", "kind": "eligibility",
     "message": "The partnership has 2 entities; at least 3 are required.",
     "values": {"entities": 2, "minimum": 3}},
    {"rule": "no_danish_entities", "kind": "eligibility", "message": "",
     "values": {"countries": ["DK"]}},
    {"rule": "transnational", "kind": "eligibility",
     "message": "All entities are established in one Member State (IT); at least 2 are "
                "required.", "values": {"member_states": ["IT"]}},
]
MISSING_PART = [{"rule": "required_parts", "kind": "admissibility",
                 "message": "The detailed budget (part 'budget') is missing.",
                 "values": {"missing": ["budget"]}}]

SCORES = {"relevance": Decimal("26"), "quality": Decimal("17.5"),
          "cost_effectiveness": Decimal("12"), "added_value": Decimal("13"),
          "impact": Decimal("16")}
COMMENTS = {"relevance": "Addresses the priority convincingly.",
            "quality": "Work plan is sound; risk table thin.",
            "cost_effectiveness": "Staff costs are high for WP3.",
            "added_value": "Good mix of experienced and new authorities.",
            "impact": "Sustainability plan is credible."}


CONTENT_HASH = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def submitted(**kw):
    data = dict(proposal_id="P-0042", topic_id=TOPIC, version=3, content_hash=CONTENT_HASH,
                received_at=datetime(2019, 1, 31, 16, 59, 58, tzinfo=BRUSSELS), acronym="CITYNET",
                title="Cities networking for integration", applicant_name="Comune di Prato",
                contact_emails=CONTACTS)
    data.update(kw)
    return ProposalSubmitted(**envelope(at=data["received_at"]), **data)


def screened(admissible=True, eligible=True, failed=(), warnings=()):
    return ProposalScreened(**envelope(), proposal_id="P-0042", topic_id=TOPIC, version=3,
                            admissible=admissible, eligible=eligible, failed_rules=list(failed),
                            warnings=list(warnings), proposal=SNAPSHOT, contact_emails=CONTACTS)


def completed(passed=True, scores=None, failed_thresholds=()):
    scores = scores or SCORES
    return EvaluationCompleted(**envelope(), proposal_id="P-0042", topic_id=TOPIC,
                               scores=scores, comments=COMMENTS,
                               total=sum(scores.values(), Decimal(0)), passed=passed,
                               failed_thresholds=list(failed_thresholds), method="mean",
                               spread_flagged=False, acronym="CITYNET",
                               contact_emails=CONTACTS)


def ranking_entry(proposal_id="P-0042", rank=1):
    return {"proposal_id": proposal_id, "rank": rank, "total": Decimal("84.5"),
            "scores": SCORES, "tie_break": None, "requested_grant": Decimal("900000"),
            "total_eligible_costs": Decimal("1000000"), "duration_months": 36,
            "acronym": "CITYNET" if proposal_id == "P-0042" else f"ACR-{proposal_id}",
            "contact_emails": CONTACTS, "participants": [], "failed_thresholds": []}


def ranking(where="main", rank=1):
    lists = {"main": [], "reserve": [], "rejected": []}
    lists[where].append(ranking_entry(rank=None if where == "rejected" else rank))
    return RankingPublished(**envelope(TOPIC, at=datetime(2019, 6, 20, 10, tzinfo=timezone.utc)),
                            topic_id=TOPIC, budget=Decimal("6000000"),
                            funded_total=Decimal("900000"), **lists)


def stage(name="information_to_applicants", at=RELEASE_AT):
    return TimetableStageReached(**envelope(CALL_ID, at=at), stage=name,
                                 label="Information to applicants", at=at, call_version=2)


def withdrawn():
    return ProposalWithdrawn(**envelope(), proposal_id="P-0042", topic_id=TOPIC,
                             withdrawn_at=datetime(2019, 3, 2, 11, 30, tzinfo=BRUSSELS),
                             acronym="CITYNET", contact_emails=CONTACTS,
                             reason="Consortium partner left")


def call_published(version=2):
    return CallPublished(**envelope(CALL_ID), version=version,
                         title="Integration of third-country nationals", call={},
                         changes=["Submission deadline moved to 31 January 2019 17:00 "
                                  "Brussels time."] if version > 1 else [],
                         notify_emails=["lead@ngo.example.org", "lead@ngo.example.org",
                                        "city@town.example.de"])


def assigned(reason="initial"):
    return EvaluatorAssigned(**envelope(at=datetime(2019, 2, 10, 9, tzinfo=BRUSSELS)),
                             proposal_id="P-0042", topic_id=TOPIC, expert_id="EX-7",
                             expert_name="Dr. Maria Schmidt",
                             expert_email="m.schmidt@experts.example.eu", acronym="CITYNET",
                             due_at=datetime(2019, 3, 3, 17, 0, tzinfo=BRUSSELS), reason=reason)


def released():
    return EvaluatorReleased(**envelope(), proposal_id="P-0042", topic_id=TOPIC,
                             expert_id="EX-7", expert_email="m.schmidt@experts.example.eu",
                             reason="conflict_declared")


def preparation_started(promoted=False, max_grant="900000.00"):
    return GrantPreparationStarted(
        **envelope(), grant_id="GRANT-P-0042", proposal_id="P-0042", topic_id=TOPIC,
        acronym="CITYNET", max_grant=Decimal(max_grant), requested_grant=Decimal("950000"),
        total_eligible_costs=Decimal("1000000"), duration_months=36,
        start_date=date(2019, 11, 1),
        preparation_deadline=datetime(2019, 8, 30, 9, 0, tzinfo=BRUSSELS),
        signature_deadline=datetime(2019, 10, 29, 9, 0, tzinfo=BRUSSELS),
        coordinator_email="Coord@comune.example.it", contact_emails=CONTACTS,
        promoted_from_reserve=promoted)


def signature_requested(party="coordinator"):
    email = "coord@comune.example.it" if party == "coordinator" else AUTHORITY
    return GrantSignatureRequested(**envelope(), grant_id="GRANT-P-0042", proposal_id="P-0042",
                                   party=party, recipient_email=email,
                                   due_at=datetime(2019, 10, 29, 9, 0, tzinfo=BRUSSELS),
                                   acronym="CITYNET")


def signed():
    return GrantSigned(**envelope(), grant_id="GRANT-P-0042", proposal_id="P-0042",
                       topic_id=TOPIC, acronym="CITYNET", amount=Decimal("900000.00"),
                       signed_at=datetime(2019, 10, 2, 15, 0, tzinfo=BRUSSELS),
                       prefinancing_amount=Decimal("360000.00"), contact_emails=CONTACTS)


def declined(reason="preparation_deadline_missed"):
    return GrantDeclined(**envelope(), grant_id="GRANT-P-0042", proposal_id="P-0042",
                         topic_id=TOPIC, acronym="CITYNET", reason=reason,
                         freed_budget=Decimal("900000.00"), contact_emails=CONTACTS)


def promoted():
    return ReservePromoted(**envelope(), proposal_id="P-0042", topic_id=TOPIC, rank=7,
                           freed_by="P-0001", available_budget=Decimal("1000000.00"),
                           acronym="CITYNET", contact_emails=CONTACTS)


def breached(measure="tti"):
    return TimeTargetBreached(**envelope(at=datetime(2019, 6, 30, 17, 0, 1, tzinfo=BRUSSELS)),
                              proposal_id="P-0042", measure=measure, days=149,
                              target_months=5 if measure == "tti" else 8)


def answer_published(question="Can a city take part\nas both coordinator and partner?"):
    at = datetime(2018, 11, 5, 14, 30, tzinfo=BRUSSELS)
    return AnswerPublished(**envelope("Q-0007", at=at), question_id="Q-0007", topic_id=TOPIC,
                           question=question, answer="No: one role per proposal.",
                           published_at=at, notify_emails=CONTACTS)

def applicant_sign_in(email="Anna.Rossi@comune.example.it", next_url="/apply/"):
    return ApplicantSignInRequested(**envelope("sign-in"), email=email, next_url=next_url)


def evaluator_sign_in(email="maria.schmidt@experts.example.eu", next_url=""):
    return EvaluatorSignInRequested(**envelope("sign-in"), expert_id="E-7",
                                    expert_name="Dr. Maria Schmidt", email=email,
                                    next_url=next_url)
