"""What the service remembers besides the delivery log: calls, letter facts, assignments,
the events seen (for the digest). Functions over a SQLAlchemy session; no commits here."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.notifications.adapters.tables import (assignment_ends, assignments, calls,
                                                    digests, letter_facts, letter_releases,
                                                    seen_events)
from services.notifications.domain.letters import LetterFacts
from services.notifications.domain.reminders import Assignment, next_reminder_at
from shared.calls.loader import ParsedCalls
from shared.calls.model import Call
from shared.db.inserts import insert_for, insert_ignoring, insert_ignoring_duplicates
from shared.db.types import UtcDateTime
from shared.events import Event, dump, load

_CALLS = ParsedCalls()  # parsed calls by (id, version): parsing validates


# --------------------------------------------------------------------------- calls
def save_call(session: Session, call_id: str, version: int, document: dict,
              now: datetime) -> bool:
    """Keep ``document`` if it is a newer version than the one kept; True if kept."""
    if insert_ignoring_duplicates(session, calls, call_id=call_id, version=version,
                                  document=document, updated_at=now):
        return True
    return session.execute(calls.update().where(calls.c.call_id == call_id,
                                                 calls.c.version < version)
                           .values(version=version, document=document,
                                   updated_at=now)).rowcount == 1


def load_call(session: Session, call_id: str, lock: bool = False) -> Call | None:
    """The latest version kept of ``call_id``. ``lock`` takes the call's row lock (on
    PostgreSQL) so handlers of one call's letters do not interleave."""
    return load_calls(session, [call_id], lock)[call_id]


def load_calls(session: Session, call_ids: Iterable[str],
               lock: bool = False) -> dict[str, Call | None]:
    """The latest version kept of each of ``call_ids`` (None for a call not kept), in one
    statement; ``lock`` as for :func:`load_call`, taken in call id order."""
    wanted = sorted(set(call_ids))
    query = (sa.select(calls.c.call_id, calls.c.version, calls.c.document)
             .where(calls.c.call_id.in_(wanted)).order_by(calls.c.call_id))
    if lock:
        query = query.with_for_update()
    found = {row.call_id: _CALLS.get(row.call_id, row.version, row.document)
             for row in session.execute(query)}
    return {call_id: found.get(call_id) for call_id in wanted}


def lock_calls(session: Session, call_ids: Iterable[str]) -> None:
    """Take the row locks of these calls (on PostgreSQL), in one order for everybody, so
    batches that concern several calls never deadlock each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(sa.select(calls.c.call_id).where(calls.c.call_id.in_(sorted(set(call_ids))))
                    .order_by(calls.c.call_id).with_for_update())


def call_ids(session: Session) -> list[str]:
    return list(session.execute(sa.select(calls.c.call_id).order_by(calls.c.call_id)).scalars())


# --------------------------------------------------------------------------- letters
def load_facts(session: Session, *, call_id: str | None = None,
               proposal_ids: Iterable[str] | None = None) -> dict[str, LetterFacts]:
    query = sa.select(letter_facts.c.facts)
    if call_id is not None:
        query = query.where(letter_facts.c.call_id == call_id)
    if proposal_ids is not None:
        query = query.where(letter_facts.c.proposal_id.in_(sorted(set(proposal_ids))))
    found = (LetterFacts.from_record(record) for record in session.execute(query).scalars())
    return {facts.proposal_id: facts for facts in found}


def facts_in_pages(session: Session, call_id: str, size: int) -> Iterator[list[LetterFacts]]:
    """Every fact of ``call_id``, ``size`` proposals at a time in proposal order (each page
    read after the one before was used: a call of 100,000 proposals is never in memory at
    once)."""
    after = ""
    while True:
        page = [LetterFacts.from_record(record) for record in session.execute(
            sa.select(letter_facts.c.facts)
            .where(letter_facts.c.call_id == call_id, letter_facts.c.proposal_id > after)
            .order_by(letter_facts.c.proposal_id).limit(size)).scalars()]
        if not page:
            return
        yield page
        after = page[-1].proposal_id


def save_facts(session: Session, changed: dict[str, LetterFacts], now: datetime) -> None:
    """Store these proposals' facts (new or replaced), in one statement (executemany)."""
    if not changed:
        return
    statement = insert_for(session, letter_facts)
    session.execute(statement.on_conflict_do_update(
        index_elements=["proposal_id"],
        set_={name: statement.excluded[name] for name in ("call_id", "facts", "updated_at")}),
        [dict(proposal_id=proposal_id, call_id=facts.call_id, facts=facts.as_record(),
              updated_at=now) for proposal_id, facts in sorted(changed.items())])


def release(session: Session, call_id: str, event_id: str, at: datetime) -> bool:
    """Record that the call's letters are released; False if they already were."""
    return insert_ignoring_duplicates(session, letter_releases, call_id=call_id,
                                      event_id=event_id, released_at=at)


def released(session: Session, call_id: str) -> bool:
    return session.execute(sa.select(letter_releases.c.call_id).where(
        letter_releases.c.call_id == call_id)).first() is not None


# --------------------------------------------------------------------------- assignments
def add_assignments(session: Session, added: Sequence[Assignment],
                    offsets_days: Sequence[int]) -> None:
    """Track assignments (each once), in two statements for any number; one is closed at
    once if an end of it (:func:`end_assignments`) was kept before it arrived: an end at
    or after its assignment, whatever order the two came in."""
    if not added:
        return
    rows = [dict(assigned_event_id=a.assigned_event_id, call_id=a.call_id,
                 proposal_id=a.proposal_id, expert_id=a.expert_id, assigned_at=a.assigned_at,
                 due_at=a.due_at, remind_from=next_reminder_at(a, offsets_days), closed=False,
                 reminded_days=[], record={"topic_id": a.topic_id, "acronym": a.acronym,
                                           "expert_name": a.expert_name,
                                           "expert_email": a.expert_email})
            for a in added]
    new = session.execute(insert_ignoring(session, assignments)
                          .returning(assignments.c.assigned_event_id), rows).scalars().all()
    if not new:
        return
    # the rows inserted now only: an assignment tracked before keeps its state (ends
    # that came since closed it themselves)
    session.execute(assignments.update().where(
        assignments.c.assigned_event_id.in_(sorted(new)),
        sa.exists().where(assignment_ends.c.proposal_id == assignments.c.proposal_id,
                          assignment_ends.c.expert_id == assignments.c.expert_id,
                          assignment_ends.c.occurred_at >= assignments.c.assigned_at))
        .values(closed=True))


# built once, run with one row per end (executemany)
_CLOSE_ENDED = assignments.update().where(
    assignments.c.proposal_id == sa.bindparam("end_proposal"),
    assignments.c.expert_id == sa.bindparam("end_expert"),
    assignments.c.assigned_at <= sa.bindparam("end_at", type_=UtcDateTime())
).values(closed=True)


def end_assignments(session: Session, ends: Sequence[Event]) -> None:
    """Releases and final reports (events with ``proposal_id``, ``expert_id``): each
    closes its expert's assignments to the proposal made up to it, and is kept for an
    assignment that arrives after it. Two statements for any number (executemany)."""
    if not ends:
        return
    session.execute(insert_ignoring(session, assignment_ends), [
        dict(event_id=e.event_id, proposal_id=e.proposal_id, expert_id=e.expert_id,
             occurred_at=e.occurred_at) for e in ends])
    session.execute(_CLOSE_ENDED, [dict(end_proposal=e.proposal_id, end_expert=e.expert_id,
                                        end_at=e.occurred_at) for e in ends])


def assignments_to_remind(session: Session, now: datetime, after: str | None,
                          limit: int) -> list[Assignment]:
    """Open assignments whose next reminder may be due at ``now``: at most ``limit``, in
    the order of their assignment event's id, those after ``after`` (keyset pages)."""
    a = assignments.c
    query = sa.select(assignments).where(a.closed.is_(False), a.remind_from <= now,
                                         a.due_at > now)
    if after is not None:
        query = query.where(a.assigned_event_id > after)
    rows = session.execute(query.order_by(a.assigned_event_id).limit(limit))
    return [Assignment(assigned_event_id=r.assigned_event_id, call_id=r.call_id,
                       proposal_id=r.proposal_id, expert_id=r.expert_id, due_at=r.due_at,
                       assigned_at=r.assigned_at, reminded_days=frozenset(r.reminded_days),
                       **r.record) for r in rows]


def record_reminded(session: Session, sent: Sequence[tuple[Assignment, int]],
                    offsets_days: Sequence[int]) -> None:
    """Note each reminder sent (assignment, days before its due date) and when the next
    may be due: one executemany UPDATE (sent in pages: shared.db.engine)."""
    if not sent:
        return
    values = []
    for assignment, days in sent:
        reminded = replace(assignment, reminded_days=assignment.reminded_days | {days})
        values.append({"event_id": assignment.assigned_event_id,
                       "reminded_days": sorted(reminded.reminded_days),
                       "remind_from": next_reminder_at(reminded, offsets_days)})
    a = assignments.c
    session.execute(assignments.update().where(a.assigned_event_id == sa.bindparam("event_id"))
                    .values(reminded_days=sa.bindparam("reminded_days"),
                            remind_from=sa.bindparam("remind_from")), values)


# --------------------------------------------------------------------------- digest
def record_seen_many(session: Session, events: Sequence[Event]) -> None:
    """Keep each event for the digest (once), in one statement (executemany)."""
    if events:
        session.execute(insert_ignoring(session, seen_events), [
            dict(event_id=e.event_id, call_id=e.call_id, event_type=e.event_type(),
                 occurred_at=e.occurred_at, payload=dump(e)) for e in events])


def seen_instants(session: Session, call_id: str, start: datetime | None,
                  end: datetime) -> list[datetime]:
    query = sa.select(seen_events.c.occurred_at).where(seen_events.c.call_id == call_id,
                                                       seen_events.c.occurred_at < end)
    if start is not None:
        query = query.where(seen_events.c.occurred_at >= start)
    return list(session.execute(query).scalars())


def _seen_between(call_id: str, start: datetime, end: datetime):
    e = seen_events.c
    return sa.and_(e.call_id == call_id, e.occurred_at >= start, e.occurred_at < end)


def seen_counts(session: Session, call_id: str, start: datetime, end: datetime) -> dict[str, int]:
    """Per event type, the events of ``call_id`` seen that occurred in [start, end)."""
    return dict(session.execute(sa.select(seen_events.c.event_type, sa.func.count()).where(
        _seen_between(call_id, start, end)).group_by(seen_events.c.event_type)).all())


def seen_of_type(session: Session, call_id: str, start: datetime, end: datetime,
                 event_type: str) -> list[Event]:
    """The events of one type seen in [start, end), whole, in the order they occurred."""
    payloads = session.execute(sa.select(seen_events.c.payload).where(
        _seen_between(call_id, start, end), seen_events.c.event_type == event_type)
        .order_by(seen_events.c.occurred_at)).scalars()
    return [load(payload) for payload in payloads]


def last_digest_day(session: Session, call_id: str) -> date | None:
    return session.execute(sa.select(sa.func.max(digests.c.day)).where(
        digests.c.call_id == call_id)).scalar()


def mark_digested(session: Session, call_id: str, day: date, at: datetime) -> bool:
    return insert_ignoring_duplicates(session, digests, call_id=call_id, day=day, made_at=at)
