"""Storing and listing questions and answers (table ``questions``)."""
from __future__ import annotations

import sqlalchemy as sa

from services.submission.adapters.tables import questions
from services.submission.domain.questions import Question, QuestionState

_Q = questions.c


def _question(row) -> Question:
    return Question(row.id, row.call_id, row.topic_id, row.asked_by, row.asked_by_operations,
                    row.question, row.asked_at, QuestionState(row.state), row.answer,
                    row.answered_by, row.answered_at, row.published_at, row.revised_at)


def _values(question: Question) -> dict:
    return {"question": question.text, "state": question.state.value,
            "answer": question.answer, "answered_by": question.answered_by,
            "answered_at": question.answered_at, "published_at": question.published_at,
            "revised_at": question.revised_at}


class QuestionStore:
    def __init__(self, session):
        self.session = session

    def get(self, question_id: str, *, lock: bool = False) -> Question | None:
        query = sa.select(questions).where(_Q.id == question_id)
        row = self.session.execute(query.with_for_update() if lock else query).one_or_none()
        return _question(row) if row is not None else None

    def add(self, question: Question) -> None:
        self.session.execute(questions.insert().values(
            id=question.id, call_id=question.call_id, topic_id=question.topic_id,
            asked_by=question.asked_by, asked_by_operations=question.asked_by_operations,
            asked_at=question.asked_at, **_values(question)))

    def save(self, question: Question) -> None:
        self.session.execute(questions.update().where(_Q.id == question.id)
                             .values(**_values(question)))

    def listing(self, call_id: str, topic_id: str, *, viewer: str | None,
                state: str | None = None, limit: int = 20,
                offset: int = 0) -> tuple[int, list[Question]]:
        """The topic's questions ``viewer`` may see (None: operations, every question):
        published ones and their own. Published first, newest first; and the total."""
        where = [_Q.call_id == call_id, _Q.topic_id == topic_id]
        if viewer is not None:
            where.append(sa.or_(_Q.state == QuestionState.PUBLISHED.value, sa.and_(
                _Q.asked_by == viewer.lower(), _Q.asked_by_operations.is_(False))))
        if state:
            where.append(_Q.state == state)
        total = self.session.execute(sa.select(sa.func.count()).select_from(questions)
                                     .where(*where)).scalar()
        rows = self.session.execute(sa.select(questions).where(*where).order_by(
            (_Q.state == QuestionState.PUBLISHED.value).desc(),
            sa.func.coalesce(_Q.published_at, _Q.asked_at).desc(), _Q.id)
            .limit(limit).offset(offset))
        return total, [_question(row) for row in rows]

    def open_count(self, call_id: str, asker: str) -> int:
        """How many of ``asker``'s questions on the call wait for their answer."""
        return self.session.execute(sa.select(sa.func.count()).select_from(questions).where(
            _Q.call_id == call_id, _Q.asked_by == asker.lower(),
            _Q.asked_by_operations.is_(False),
            _Q.state == QuestionState.ASKED.value)).scalar()

    def askers_of_call(self, call_id: str) -> list[str]:
        """Applicants who asked a question on the call."""
        return list(self.session.execute(sa.select(_Q.asked_by).distinct().where(
            _Q.call_id == call_id, _Q.asked_by_operations.is_(False))).scalars())
