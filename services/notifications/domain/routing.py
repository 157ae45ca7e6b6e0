"""Which notifications an integration event causes, at the moment it is handled.

Result letters are not here: they wait for the information-to-applicants milestone and
are decided from accumulated facts (see :mod:`letters`). Reminders and the daily digest are
decided on the clock (see :mod:`reminders`, :mod:`digest`).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from shared.calls.model import Call
from shared.events import (AnswerPublished, ApplicantSignInRequested, CallPublished, Event,
                           EvaluatorAssigned, EvaluatorReleased, EvaluatorSignInRequested,
                           GrantDeclined, GrantPreparationStarted, GrantSignatureRequested,
                           GrantSigned, ProposalScreened, ProposalSubmitted,
                           ProposalWithdrawn, ReservePromoted, TimeTargetBreached)

from services.notifications.domain import notification as n
from services.notifications.domain.contexts import (call_context, rules_in_words,
                                                    screening_outcome, topic_context)
from shared.formatting import day, instant, money, number
from services.notifications.domain.notification import Notification, unique_recipients
from services.notifications.domain.wording import (ASSIGNMENT_REASONS, GRANT_END_REASONS,
                                                   MEASURES, RELEASE_REASONS, say)

Recipients = list[tuple[str, str]]  # (email, role)
#: context key of a message that carries a sign-in link to the people's pages: what to sign
#: in to and where to land. The link itself is minted when the message is queued
#: (adapters/sign_in_links.py: it needs the secret and the wall clock), as ``sign_in_url``.
SIGN_IN = "sign_in"


def sign_in(audience: str, next_url: str) -> dict[str, str]:
    return {"audience": audience, "next": next_url}


Plan = tuple[Recipients, str, dict[str, Any]]  # recipients, template, context


def route(event: Event, call: Call, operations: Sequence[str] = ()) -> list[Notification]:
    """The notifications ``event`` causes now, one per (recipient, template).

    ``call`` is the call the event belongs to (for ``call_published``, the version it
    publishes); ``operations`` are the addresses of the operations team (breach alerts).
    Events that cause no message now return an empty list."""
    planner = _PLANNERS.get(type(event))
    if planner is None:
        return []
    plan = planner(event, call, operations)
    if plan is None:
        return []
    recipients, template, context = plan
    return notifications(event, recipients, template, {**call_context(call), **context},
                         proposal_id=getattr(event, "proposal_id", None))


def may_notify(event: Event) -> bool:
    """Whether events of this type ever cause a message when handled (then the handler
    needs the event's call)."""
    return type(event) in _PLANNERS


def notifications(event: Event, recipients: Recipients, template: str,
                  context: dict[str, Any], *, proposal_id: str | None = None,
                  dedupe_id: str | None = None) -> list[Notification]:
    """One Notification per distinct address (first role wins), each context naming its
    recipient and role."""
    roles: dict[str, str] = {}
    for email, role in recipients:
        for address in unique_recipients([email]):
            roles.setdefault(address, role)
    return [Notification(recipient=address, role=role, template=template,
                         context={**context, "recipient": address, "role": role},
                         source_event_id=event.event_id,
                         source_event_type=event.event_type(), call_id=event.call_id,
                         proposal_id=proposal_id, dedupe_id=dedupe_id)
            for address, role in roles.items()]


def contacts(emails: Iterable[str], role: str = n.APPLICANT_CONTACT) -> Recipients:
    return [(email, role) for email in emails]


# --------------------------------------------------------------------------- planners
def _call_published(e: CallPublished, call: Call, _ops) -> Plan | None:
    if e.version <= 1:  # a first publication is not an amendment
        return None
    return (contacts(e.notify_emails, n.REGISTERED_APPLICANT), n.CALL_AMENDED,
            {"version": e.version, "changes": list(e.changes) or
             ["The call document was updated; please read the new version."],
             "deadline": instant(call.deadline, call.timezone)})


def _submitted(e: ProposalSubmitted, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.SUBMISSION_RECEIPT, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "title": e.title, "applicant_name": e.applicant_name,
        "version": e.version, "content_hash": e.content_hash,
        "received_at": instant(e.received_at, call.timezone),
        "deadline": instant(call.deadline, call.timezone),
        SIGN_IN: sign_in("apply", f"/apply/proposals/{e.proposal_id}")})


def _withdrawn(e: ProposalWithdrawn, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.WITHDRAWAL_CONFIRMATION, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "withdrawn_at": instant(e.withdrawn_at, call.timezone),
        "reason": e.reason})


def _screened(e: ProposalScreened, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.SCREENING_RESULT, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.proposal.get("acronym", e.proposal_id),
        "title": e.proposal.get("title", ""), "version": e.version,
        "outcome": screening_outcome(e.admissible, e.eligible),
        "failed_rules": rules_in_words(e.failed_rules, call),
        "warnings": rules_in_words(e.warnings, call)})


def _assigned(e: EvaluatorAssigned, call: Call, _ops) -> Plan:
    return ([(e.expert_email, n.EXPERT)], n.EVALUATOR_ASSIGNED, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "expert_name": e.expert_name,
        "due_at": instant(e.due_at, call.timezone),
        "reason": say(ASSIGNMENT_REASONS, e.reason),
        SIGN_IN: sign_in("review", f"/review/assignments/{e.proposal_id}")})


def _released(e: EvaluatorReleased, call: Call, _ops) -> Plan:
    # the event names no acronym: the proposal id is what the expert can quote
    return ([(e.expert_email, n.EXPERT)], n.EVALUATOR_RELEASED, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "reason": say(RELEASE_REASONS, e.reason)})


def _preparation_started(e: GrantPreparationStarted, call: Call, _ops) -> Plan:
    tz, cur = call.timezone, call.currency
    return ([(e.coordinator_email, n.COORDINATOR)] + contacts(e.contact_emails),
            n.GRANT_INVITATION, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "grant_id": e.grant_id,
        "max_grant": money(e.max_grant, cur), "requested_grant": money(e.requested_grant, cur),
        "total_eligible_costs": money(e.total_eligible_costs, cur),
        "cofinancing_cap": f"{number(call.grants.cofinancing_cap * 100)} %",
        "grant_was_capped": e.max_grant < e.requested_grant,
        "duration_months": e.duration_months, "start_date": day(e.start_date),
        "preparation_deadline": instant(e.preparation_deadline, tz),
        "signature_deadline": instant(e.signature_deadline, tz),
        "promoted_from_reserve": e.promoted_from_reserve,
        "coordinator_email": e.coordinator_email.strip().lower()})


def _signature_requested(e: GrantSignatureRequested, call: Call, _ops) -> Plan:
    if e.party == "authority":
        recipients, template = [(e.recipient_email, n.AUTHORITY)], n.SIGNATURE_REQUEST_AUTHORITY
    else:
        recipients, template = ([(e.recipient_email, n.COORDINATOR)],
                                n.SIGNATURE_REQUEST_COORDINATOR)
    return (recipients, template, {
        "proposal_id": e.proposal_id, "acronym": e.acronym, "grant_id": e.grant_id,
        "due_at": instant(e.due_at, call.timezone)})


def _signed(e: GrantSigned, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.GRANT_SIGNED, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "grant_id": e.grant_id,
        "amount": money(e.amount, call.currency),
        "prefinancing_amount": money(e.prefinancing_amount, call.currency),
        "signed_at": instant(e.signed_at, call.timezone)})


def _declined(e: GrantDeclined, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.GRANT_DECLINED, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "grant_id": e.grant_id, "reason_code": e.reason,
        "reason": say(GRANT_END_REASONS, e.reason),
        "amount": money(e.freed_budget, call.currency)})


def _promoted(e: ReservePromoted, call: Call, _ops) -> Plan:
    return (contacts(e.contact_emails), n.RESERVE_PROMOTED, {
        **topic_context(call, e.topic_id), "proposal_id": e.proposal_id,
        "acronym": e.acronym, "rank": e.rank})


def _breached(e: TimeTargetBreached, call: Call, operations) -> Plan:
    return (contacts(operations, n.OPERATIONS), n.TIME_TARGET_BREACH, {
        "proposal_id": e.proposal_id, "measure": e.measure,
        "measure_name": say(MEASURES, e.measure), "days": e.days,
        "target_months": e.target_months,
        "detected_at": instant(e.occurred_at, call.timezone),
        "deadline": instant(call.deadline, call.timezone)})


def _answer_published(e: AnswerPublished, call: Call, _ops) -> Plan:
    first_line = " ".join(e.question.split())
    return (contacts(e.notify_emails, n.REGISTERED_APPLICANT), n.ANSWER_PUBLISHED, {
        **topic_context(call, e.topic_id), "question_id": e.question_id,
        "question": e.question, "answer": e.answer,
        "question_excerpt": first_line if len(first_line) <= 80
        else first_line[:77].rstrip() + "...",
        "published_at": instant(e.published_at, call.timezone),
        SIGN_IN: sign_in("apply", f"/apply/calls/{e.call_id}/topics/{e.topic_id}/questions")})


def _applicant_sign_in(e: ApplicantSignInRequested, call: Call, _ops) -> Plan:
    return ([(e.email, n.APPLICANT_CONTACT)], n.SIGN_IN_LINK,
            {"pages": "applicants", SIGN_IN: sign_in("apply", e.next_url)})


def _evaluator_sign_in(e: EvaluatorSignInRequested, call: Call, _ops) -> Plan:
    return ([(e.email, n.EXPERT)], n.SIGN_IN_LINK,
            {"pages": "evaluators", SIGN_IN: sign_in("review", e.next_url)})


_PLANNERS: dict[type[Event], Callable[[Any, Call, Sequence[str]], Plan | None]] = {
    CallPublished: _call_published,
    ProposalSubmitted: _submitted,
    ProposalWithdrawn: _withdrawn,
    ProposalScreened: _screened,
    EvaluatorAssigned: _assigned,
    EvaluatorReleased: _released,
    GrantPreparationStarted: _preparation_started,
    GrantSignatureRequested: _signature_requested,
    GrantSigned: _signed,
    GrantDeclined: _declined,
    ReservePromoted: _promoted,
    TimeTargetBreached: _breached,
    AnswerPublished: _answer_published,
    ApplicantSignInRequested: _applicant_sign_in,
    EvaluatorSignInRequested: _evaluator_sign_in,
}
