"""The timetable driver: fires each due milestone of each call once, in time order.

At ``submission_deadline`` the work is, in this order, each step its own transaction(s):

1. close each topic (one transaction per topic): wait for the submissions in flight,
   freeze every proposal at its last on-time version, store the manifest and publish
   ``deadline_closed``;
2. screen each closed topic's frozen proposals (a transaction per 1,000 proposals, then
   one marking the topic screened; every topic is closed first because ``single_topic``
   compares a proposal with the whole call) and publish ``proposal_screened`` per
   proposal;
3. record the milestone and publish ``timetable_stage_reached``: the stage event comes
   last, so whoever reacts to it finds every topic closed and screened.

Each step re-reads what is already done under the call's lock, so a crash half-way is
resumed by the next tick and nothing happens twice; on PostgreSQL the lock also makes
replicas take turns, and the primary keys (closed topic, fired milestone) would refuse
a second copy even without it. The newest call version decides what has not fired.

A tick works on a deadline for about :data:`WORK_PER_TICK_SECONDS` (checked after each
topic closed and each page screened, so every tick gets somewhere) and then leaves the
rest to the next tick, reporting the deadline as pending: at 100,000 proposals closing and
screening took about six minutes, longer than the replay driver's request waited for the
one tick that did it all. The same resumption as after a crash picks it up.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from services.submission.adapters import locks
from services.submission.adapters.call_store import CallStore
from services.submission.adapters.repository import ProposalRepository
from services.submission.adapters.tables import closed_topics, fired_milestones
from services.submission.domain.deadline import is_closed, utc_iso
from services.submission.domain.manifest import closing_event, freeze_topic
from services.submission.domain.proposal import State
from services.submission.domain.screening import rivals, screen
from services.submission.domain.timetable import DEADLINE, due_milestones
from shared.calls.model import Call, Milestone
from shared.events import TimetableStageReached

_log = logging.getLogger(__name__)

#: a guard against a livelock (e.g. amendments racing a tick); the next tick goes on
MAX_STEPS_PER_CALL = 50
#: how long a tick works on a deadline before it hands the rest to the next tick
WORK_PER_TICK_SECONDS = 20.0


@dataclass
class TickReport:
    """What a tick fired, and the deadlines it left half-done for the next tick."""

    fired: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)


def _over(until: float | None) -> bool:
    return until is not None and time.monotonic() >= until


def _each_until(items: list[str], step, until: float | None) -> list[str]:
    """``step(item)`` for each item until the time runs out (after one at least); the
    items whose step returned True."""
    done = []
    for item in items:
        if step(item):
            done.append(item)
        if _over(until):
            break
    return done


def tick(uow, now: datetime, work_seconds: float | None = WORK_PER_TICK_SECONDS) -> TickReport:
    """Fire every due milestone of every call, working on a deadline for about
    ``work_seconds`` (``None``: until it is done); what this tick fired (another replica
    may have fired the rest) and what it left pending."""
    until = None if work_seconds is None else time.monotonic() + work_seconds
    with uow:
        call_ids = [p.call.id for p in CallStore(uow.session).all_current()]
    report = TickReport()
    for call_id in call_ids:
        fired, pending = fire_call(uow, call_id, now, until)
        report.fired += fired
        report.pending += pending
    return report


def _fired_keys(session, call_id: str) -> set[str]:
    return set(session.execute(sa.select(fired_milestones.c.milestone).where(
        fired_milestones.c.call_id == call_id)).scalars())


def _next_due(session, call_id: str, now: datetime) -> tuple[Call, Milestone | None]:
    call = CallStore(session).current(call_id).call
    due = due_milestones(call, _fired_keys(session, call_id), now)
    return call, (due[0] if due else None)


def fire_call(uow, call_id: str, now: datetime,
              until: float | None = None) -> tuple[list[dict], list[dict]]:
    """Fire the call's due milestones in order: (fired, pending), the deadline pending when
    the time (``until``, monotonic) ran out before its topics were closed and screened."""
    fired = []
    for _ in range(MAX_STEPS_PER_CALL):
        with uow:
            _, milestone = _next_due(uow.session, call_id, now)
        if milestone is None:
            return fired, []
        if milestone.key == DEADLINE:
            close_topics(uow, call_id, now, until)
            screen_topics(uow, call_id, now, until)
            if _over(until):
                progress = deadline_progress(uow, call_id)
                if progress["screened"] < progress["topics"]:
                    return fired, [progress]
        recorded = _record(uow, call_id, milestone.key, now)
        if recorded is not None:
            fired.append(recorded)
    _log.warning("timetable of %s: still due milestones after %d steps; next tick goes on",
                 call_id, MAX_STEPS_PER_CALL)
    return fired, []


def deadline_progress(uow, call_id: str) -> dict:
    """How far the deadline's work is: the call's topics, those closed, those screened."""
    with uow:
        call = CallStore(uow.session).current(call_id).call
        closed = _closed_rows(uow.session, call_id)
    topics = {t.id for t in call.topics}
    return {"call_id": call_id, "milestone": DEADLINE, "topics": len(topics),
            "closed": sum(1 for t in closed if t in topics),
            "screened": sum(1 for t, row in closed.items()
                            if t in topics and row.screened_at is not None)}


def _closed_rows(session, call_id: str) -> dict:
    return {row.topic_id: row for row in session.execute(
        sa.select(closed_topics.c.topic_id, closed_topics.c.screened_at).where(
            closed_topics.c.call_id == call_id))}


def _record(uow, call_id: str, key: str, now: datetime) -> dict | None:
    """Record ``key`` as fired and publish the stage event, if it is still the next due
    milestone (and, for the deadline, every topic is closed and screened)."""
    with uow:
        locks.call_exclusive(uow.session, call_id)
        call, milestone = _next_due(uow.session, call_id, now)
        if milestone is None or milestone.key != key:
            return None  # fired meanwhile, or an amendment moved it: re-plan
        if key == DEADLINE:
            closed = _closed_rows(uow.session, call_id)
            if any(t.id not in closed or closed[t.id].screened_at is None for t in call.topics):
                return None  # a topic was added meanwhile: close and screen it first
        uow.session.execute(fired_milestones.insert().values(
            call_id=call_id, milestone=key, stage=milestone.stage, at=milestone.at,
            call_version=call.version, fired_at=now))
        uow.add_events(TimetableStageReached(
            call_id=call_id, correlation_id=call_id, occurred_at=now, stage=key,
            label=milestone.label, at=milestone.at, call_version=call.version))
        uow.commit()
    _log.info("timetable of %s: %s (%s) fired", call_id, key, utc_iso(milestone.at))
    return {"call_id": call_id, "milestone": key, "at": utc_iso(milestone.at),
            "fired_at": utc_iso(now)}


def close_topics(uow, call_id: str, now: datetime, until: float | None = None) -> list[str]:
    """Close every topic not closed yet, one transaction each, until the time runs out
    (after one topic at least); returns those closed."""
    with uow:
        call = CallStore(uow.session).current(call_id).call
        todo = [t.id for t in call.topics if t.id not in _closed_rows(uow.session, call_id)]
    return _each_until(todo, lambda topic_id: close_one_topic(uow, call_id, topic_id, now),
                       until)


#: proposals of a topic read and frozen at a time when it closes, in the topic's one
#: transaction (its manifest is all or nothing): only their manifest entries are kept
CLOSE_PAGE = 1000


def close_one_topic(uow, call_id: str, topic_id: str, now: datetime) -> bool:
    with uow:
        locks.call_exclusive(uow.session, call_id)
        if topic_id in _closed_rows(uow.session, call_id):
            return False
        call = CallStore(uow.session).current(call_id).call
        if not is_closed(now, call.deadline):
            return False  # an amendment moved the deadline later
        ProposalRepository(uow.session).lock_topic(call_id, topic_id)  # waits for submissions
        entries, after = [], ""
        while after is not None:
            repo = ProposalRepository(uow.session)  # a page's proposals go with it
            page = repo.for_topic(call_id, topic_id, after=after, limit=CLOSE_PAGE)
            submitted = [p for p in page if p.state is State.SUBMITTED]
            entries += freeze_topic(call, topic_id, page, now=now)
            repo.save_frozen([p for p in submitted if p.state is State.FROZEN], now=now)
            after = page[-1].id if len(page) == CLOSE_PAGE else None
        event = closing_event(call, topic_id, entries, now=now)
        uow.session.execute(closed_topics.insert().values(
            call_id=call_id, topic_id=topic_id, call_version=call.version,
            deadline=call.deadline, closed_at=now, manifest=event.manifest,
            manifest_hash=event.manifest_hash))
        uow.add_events(event)
        uow.commit()
    _log.info("topic %s of %s closed: %d proposal(s) in the manifest %s", topic_id, call_id,
              len(event.manifest), event.manifest_hash)
    return True


def screen_topics(uow, call_id: str, now: datetime, until: float | None = None) -> list[str]:
    """Screen each closed topic not screened yet, once every topic of the call is closed
    (``single_topic`` compares a proposal with the whole call), until the time runs out
    (after one page at least); returns the topics screened to the end."""
    with uow:
        call = CallStore(uow.session).current(call_id).call
        closed = _closed_rows(uow.session, call_id)
    if any(t.id not in closed for t in call.topics):
        return []
    todo = [t for t, row in closed.items() if row.screened_at is None]
    return _each_until(
        todo, lambda topic_id: screen_one_topic(uow, call_id, topic_id, now, until), until)


#: frozen proposals screened per transaction (with their proposal_screened events): a
#: topic of 20,000 screened in one held every proposal of the call and every event at once
SCREEN_PAGE = 1000


def screen_one_topic(uow, call_id: str, topic_id: str, now: datetime,
                     until: float | None = None) -> bool:
    """Screen a closed topic: its frozen proposals :data:`SCREEN_PAGE` per transaction,
    then the topic marked screened. Each proposal is judged against the call's others
    through their :class:`Rival` summaries, read once, under the call's lock, when the
    topic starts. A page reads only what is not screened yet, so a crash between pages
    resumes where it stopped, a second worker on the same topic screens nothing twice, and
    a tick whose time ran out (``until``) stops after a page, the next going on from there
    (False: not done).

    The time spent reading the rivals is not taken from the tick's pages: at 100,000
    proposals that read (a 4.6 s query on a loaded machine, then 95,000 rivals built and
    indexed) left a 20 s tick one page of 1,000, and the next tick read them all again
    (about a third of the submission service's time while it screened)."""
    started = time.monotonic()
    with uow:
        locks.call_exclusive(uow.session, call_id)
        if _screened(uow.session, call_id, topic_id):
            return False
        others = rivals(ProposalRepository(uow.session).rivals_of_call(call_id))
    if until is not None:
        until += time.monotonic() - started
    count, after = 0, ""
    while after is not None:
        with uow:
            locks.call_exclusive(uow.session, call_id)
            call = CallStore(uow.session).current(call_id).call
            repo = ProposalRepository(uow.session)
            page = repo.unscreened_of_topic(call_id, topic_id, after=after, limit=SCREEN_PAGE)
            for proposal in page:
                view = proposal.frozen()
                proposal.record_screening(screen(call, view, others(view)), now=now)
                uow.add_events(*proposal.pull_events())
            repo.save_screenings(page, now=now)  # one executemany for the page
            uow.commit()
        count += len(page)
        after = page[-1].id if len(page) == SCREEN_PAGE else None
        if after is not None and _over(until):
            _log.info("topic %s of %s: %d proposal(s) screened by this tick; the next "
                      "tick goes on", topic_id, call_id, count)
            return False
    with uow:
        locks.call_exclusive(uow.session, call_id)
        if _screened(uow.session, call_id, topic_id):
            return False
        uow.session.execute(closed_topics.update().where(
            closed_topics.c.call_id == call_id, closed_topics.c.topic_id == topic_id)
            .values(screened_at=now))
        uow.commit()
    _log.info("topic %s of %s screened: %d proposal(s)", topic_id, call_id, count)
    return True


def _screened(session, call_id: str, topic_id: str) -> bool:
    return session.execute(sa.select(closed_topics.c.screened_at).where(
        closed_topics.c.call_id == call_id, closed_topics.c.topic_id == topic_id)
    ).scalar() is not None
