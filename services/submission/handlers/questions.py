"""Questions and answers of a topic: applicants ask, operations answer and publish, and
publishing tells every applicant of the call (``answer_published`` in the same
transaction as the publication)."""
from __future__ import annotations

from datetime import datetime

from services.submission.adapters.partner_store import PartnerStore
from services.submission.adapters.question_store import QuestionStore
from services.submission.adapters.repository import ProposalRepository
from services.submission.domain.questions import Question
from services.submission.handlers.common import (iso, new_id, published_topic, refusals,
                                                 topic_page)
from shared.web import NotFound


def question_view(question: Question, principal) -> dict:
    """``QuestionSchema``. Applicants never see who asked, nor an answer before it is
    published; operations see everything."""
    mine = question.asked_by_person(principal.email)
    shown = principal.is_operations or question.published_at is not None
    view = {"id": question.id, "call_id": question.call_id, "topic_id": question.topic_id,
            "question": question.text, "state": question.state.value,
            "asked_at": iso(question.asked_at), "answer": question.answer if shown else None,
            "published_at": iso(question.published_at), "revised_at": iso(question.revised_at),
            "mine": mine}
    if principal.is_operations:
        view.update(asked_by=question.asked_by, answered_by=question.answered_by,
                    answered_at=iso(question.answered_at))
    return view


def _visible(store: QuestionStore, principal, question_id: str, lock: bool = False):
    question = store.get(question_id, lock=lock)
    if question is None or not question.visible_to(principal.email, principal.is_operations):
        raise NotFound(f"no question {question_id}", code="question_not_found")
    return question


def applicants_of_call(session, call_id: str) -> list[str]:
    """Everyone to tell of a new answer: contacts of the call's proposals that are not
    withdrawn, owners of published partner profiles, and applicants who asked."""
    emails = set(ProposalRepository(session).contacts_of_call(call_id))
    emails |= set(PartnerStore(session).owners_of_call(call_id))
    emails |= set(QuestionStore(session).askers_of_call(call_id))
    return sorted({email.strip().lower() for email in emails})


# ----------------------------------------------------------------------- commands
def ask(uow, principal, call_id: str, topic_id: str, text: str, now: datetime) -> dict:
    with uow:
        call = published_topic(uow.session, call_id, topic_id)
        store = QuestionStore(uow.session)
        with refusals():
            question = Question.ask(
                question_id=new_id("Q"), call_id=call_id, topic_id=topic_id,
                asked_by=principal.email, by_operations=principal.is_operations, text=text,
                now=now, deadline=call.deadline,
                open_questions=store.open_count(call_id, principal.email))
        store.add(question)
        uow.commit()
    return question_view(question, principal)


def answer(uow, principal, question_id: str, data: dict, now: datetime) -> dict:
    """Operations write the answer (and may rephrase the question); on a published entry
    this is a revision, which tells nobody again."""
    with uow:
        store = QuestionStore(uow.session)
        question = _visible(store, principal, question_id, lock=True)
        with refusals():
            question = question.write_answer(answer=data["answer"], by=principal.email,
                                             now=now, question=data.get("question"))
        store.save(question)
        uow.commit()
    return question_view(question, principal)


def publish(uow, principal, question_id: str, now: datetime) -> dict:
    """Publish the answered question to every applicant of the call, once."""
    with uow:
        store = QuestionStore(uow.session)
        question = _visible(store, principal, question_id, lock=True)
        with refusals():
            question = question.publish(now=now, notify_emails=applicants_of_call(
                uow.session, question.call_id))
        store.save(question)
        uow.add_events(*question.events)
        uow.commit()
    return question_view(question, principal)


# ----------------------------------------------------------------------- queries
def get(uow, principal, question_id: str) -> dict:
    with uow:
        return question_view(_visible(QuestionStore(uow.session), principal, question_id),
                             principal)


def listing(uow, principal, call_id: str, topic_id: str, *, limit: int, offset: int,
            state: str | None = None) -> dict:
    """The topic's questions the caller may see: published ones (and their own; all of
    them for operations), published first, a page at a time."""
    with uow:
        published_topic(uow.session, call_id, topic_id)
        total, found = QuestionStore(uow.session).listing(
            call_id, topic_id, viewer=None if principal.is_operations else principal.email,
            state=state, limit=limit, offset=offset)
        return topic_page(call_id, topic_id, total, limit, offset,
                          questions=[question_view(q, principal) for q in found])
