"""Questions and answers of a topic: applicants ask, operations answer and publish.

A question is seen by the person who asked it and by operations until its answer is
published; from then on every applicant of the call sees it (without the asker's
address), and the service tells each of them once by mail: publishing records one
:class:`AnswerPublished` event carrying every address, and a question is published only
once. Operations may rephrase the question (to take personal details out) and revise a
published answer; a revision tells nobody again.

Applicants ask until the submission deadline, and at most :data:`MAX_OPEN_QUESTIONS` at a
time on one call, so nobody can flood the operations team; operations may add entries of
their own at any time.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from services.submission.domain.deadline import is_closed, require_aware, utc_iso
from services.submission.domain.errors import (DeadlinePassed, InvalidEntry,
                                               InvalidTransition, LimitReached)
from shared.events import AnswerPublished, Event

MAX_OPEN_QUESTIONS = 20  # unanswered questions of one person on one call


class QuestionState(str, Enum):
    ASKED = "asked"
    PUBLISHED = "published"


@dataclass(frozen=True)
class Question:
    id: str
    call_id: str
    topic_id: str
    asked_by: str  # lower case
    asked_by_operations: bool
    text: str
    asked_at: datetime
    state: QuestionState = QuestionState.ASKED
    answer: str = ""
    answered_by: str | None = None
    answered_at: datetime | None = None
    published_at: datetime | None = None
    revised_at: datetime | None = None  # the published entry changed after publication
    events: tuple[Event, ...] = field(default=(), compare=False)

    @classmethod
    def ask(cls, *, question_id: str, call_id: str, topic_id: str, asked_by: str,
            by_operations: bool, text: str, now: datetime, deadline: datetime,
            open_questions: int) -> "Question":
        """A new question; ``open_questions``: how many of the asker's questions on the
        call are still unanswered."""
        if not by_operations:
            if is_closed(require_aware(now, "now"), deadline):
                raise DeadlinePassed(f"cannot ask a question: the submission deadline "
                                     f"{utc_iso(deadline)} has passed")
            if open_questions >= MAX_OPEN_QUESTIONS:
                raise LimitReached(f"you have {open_questions} unanswered questions on call "
                                   f"{call_id}; at most {MAX_OPEN_QUESTIONS} may wait for an "
                                   "answer at a time")
        return cls(question_id, call_id, topic_id, asked_by.strip().lower(), by_operations,
                   _required("question", text), now)

    def write_answer(self, *, answer: str, by: str, now: datetime,
                     question: str | None = None) -> "Question":
        """Operations write (or rewrite) the answer, and may rephrase the question; once
        published, this revises the published entry."""
        changed = replace(self, answer=_required("answer", answer), answered_by=by.lower(),
                          answered_at=now,
                          text=self.text if question is None else _required("question",
                                                                            question))
        if self.state is QuestionState.PUBLISHED and (changed.answer, changed.text) != \
                (self.answer, self.text):
            changed = replace(changed, revised_at=now)
        return changed

    def publish(self, *, now: datetime, notify_emails: list[str]) -> "Question":
        """Make the entry visible to every applicant of the call and tell each of them."""
        if self.state is QuestionState.PUBLISHED:
            raise InvalidTransition(f"question {self.id} is already published")
        if not self.answer:
            raise InvalidEntry([("answer", "write the answer before publishing")])
        emails = sorted({e.strip().lower() for e in notify_emails if e.strip()})
        event = AnswerPublished(
            call_id=self.call_id, correlation_id=self.id, occurred_at=now,
            question_id=self.id, topic_id=self.topic_id, question=self.text,
            answer=self.answer, published_at=now, notify_emails=emails)
        return replace(self, state=QuestionState.PUBLISHED, published_at=now,
                       events=self.events + (event,))

    def visible_to(self, email: str, is_operations: bool) -> bool:
        return self.state is QuestionState.PUBLISHED or is_operations or self.asked_by_person(
            email)

    def asked_by_person(self, email: str) -> bool:
        return not self.asked_by_operations and email.strip().lower() == self.asked_by


def _required(name: str, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidEntry([(name, "must not be empty")])
    return text
