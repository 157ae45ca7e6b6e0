"""What the service does with the integration events it receives.

:func:`on_events` applies a batch, run by ``UnitOfWork.consume_batch(..., bulk=True)`` (so
its effects and the processed event ids commit together; a redelivery does nothing), with
the effects of :func:`on_event` applied to each event in order:

1. keep the event for the daily digest (the service's own outcomes it reads from its
   delivery log);
2. ``call_published``: keep the call (the latest version) for time zone, rules, redress;
3. evaluator assignments, releases and final reports: track what reminders are owed;
4. result-letter facts (screening, withdrawal, consensus, ranking): fold them into each
   proposal's persisted facts; at the information-to-applicants milestone, or for facts
   completed after it, queue the letters that became possible;
5. queue the messages the event causes now (domain ``route``).

A batch costs a few statements whatever its size: 1, 3 and 5 are one statement each for
the whole batch (executemany), its calls are read once, and the letter facts of 4 are read
once, folded in memory in the batch's order (each event sees what the ones before it
changed) and written once (a deadline screens every proposal: 10,000 events). Only 2 and
the release milestone (rare) run statements of their own.

Failures: an event of a call whose ``call_published`` has not arrived raises
:class:`CallNotKnownYet` (retried with backoff, then dead-lettered for a replay: the
service never guesses a call's time zone or deadlines); a ``call_published`` carrying an
invalid call is a :class:`PermanentFailure`. Either fails the whole batch: the consumer
then handles its events one by one, so only the culprit is retried.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator, Sequence

from services.notifications.adapters import store
from services.notifications.adapters.sign_in_links import with_sign_in_links
from services.notifications.handlers.delivery import queue
from services.notifications.domain.letters import (LetterFacts, is_release, result_letters,
                                                   update_facts)
from services.notifications.domain.notification import Notification
from services.notifications.domain.reminders import Assignment
from services.notifications.domain.routing import may_notify, route
from shared.calls.loader import call_from_wire
from shared.calls.model import Call
from shared.calls.schema import InvalidCall
from shared.events import (CallPublished, EvaluationCompleted, EvaluationReportSubmitted,
                           EvaluatorAssigned, EvaluatorReleased, Event, ProposalScreened,
                           ProposalWithdrawn, RankingPublished)
from shared.messaging.consumer import PermanentFailure

FACT_EVENTS = (ProposalScreened, ProposalWithdrawn, EvaluationCompleted, RankingPublished)


class CallNotKnownYet(Exception):
    """The event's call_published has not been handled yet: retry later."""


def consume(uow, events: Sequence[Event], now: datetime, settings) -> int:
    """A consumer's batch as the service's entrypoints take it: its new events applied in
    one transaction, their calls locked first (:func:`lock_calls`, :func:`on_events`).
    Returns how many messages they queued: most batches of evaluation's events (reports,
    assignments' bookkeeping) queue none, and the senders need not be woken for them."""
    queued = 0

    def apply(uow, fresh) -> None:
        nonlocal queued
        queued = on_events(uow, fresh, now, settings)

    uow.consume_batch(events, apply, prepare=lock_calls, bulk=True)
    return queued


def on_event(uow, event: Event, now: datetime, settings) -> int:
    """Handle one event (see the module docstring); returns how many messages it queued."""
    return on_events(uow, [event], now, settings)


#: proposals whose result letters are derived, rendered and queued together at the
#: release milestone: the letters of a whole call (four contacts each) held at once grew the
#: service by about 40 MB per 1,000 proposals
RELEASE_PAGE = 1000


def on_events(uow, events: Sequence[Event], now: datetime, settings) -> int:
    """Handle ``events`` as :func:`on_event` would one after another, with a few
    statements for the batch; returns how many messages they queued.

    The messages are queued once, at the end, except around a release: what the events
    before it caused is queued first, then the call's letters page by page
    (:data:`RELEASE_PAGE` proposals), all in the batch's transaction. Queueing keeps the
    first message of a key, so the outcome is the one of a single queueing in order."""
    session = uow.session
    store.record_seen_many(session, events)
    calls = _BatchCalls(session, events)
    facts = _BatchFacts(session, events)
    notes: list[list[Notification]] = []
    queued = 0
    for event in events:
        caused, release = _apply(session, event, calls, facts, now, settings)
        notes.append(caused)
        if release is not None:
            queued += _queue(uow, notes, now, settings)
            notes = []
            for page in facts.release(event, now, RELEASE_PAGE):
                queued += _queue(uow, [result_letters(page, release, now, event)], now,
                                 settings)
    facts.save(now)
    _track_assignments(session, events, settings.reminder_days)
    return queued + _queue(uow, notes, now, settings)


def _queue(uow, notes: list[list[Notification]], now: datetime, settings) -> int:
    return queue(uow, with_sign_in_links(_first_of_each_key(notes), settings.pages), now)


def _apply(session, event: Event, calls: "_BatchCalls", facts: "_BatchFacts",
           now: datetime, settings) -> tuple[list[Notification], Call | None]:
    """What one event does to calls and letter facts, in the batch's order: the messages
    it causes, and for the release milestone its call (whose letters the caller derives
    page by page)."""
    if isinstance(event, CallPublished) and _keep_call(session, event, now):
        calls.changed(event.call_id)
    concerns_letters = _concerns_letters(event)
    if not (concerns_letters or may_notify(event)):
        return [], None
    call = calls.get(event.call_id)
    if call is None:
        raise CallNotKnownYet(f"{event.event_type()} {event.event_id} concerns call "
                              f"{event.call_id!r}, whose call_published was not seen yet")
    notes = route(event, call, settings.operations)
    if isinstance(event, ProposalScreened) and facts.withdrawn(event.proposal_id):
        notes = []  # withdrawn at or after the deadline: it will not be evaluated
    if is_release(event):
        return notes, call
    if concerns_letters:
        notes += _completed_letters(facts, event, call, now)
    return notes, None


class _BatchCalls:
    """The calls a batch's events need, read once in one statement, and read again only
    after a ``call_published`` of the batch kept a newer version.

    The call's row lock serialises the handlers of one call's letters (a ranking that
    commits while the milestone is being handled cannot be missed by both): the calls are
    read with it when any event of the batch concerns letters. ``lock_calls`` has taken
    it already when the batch came through ``consume_batch``; this keeps it for a caller
    that did not."""

    def __init__(self, session, events: Sequence[Event]):
        needing = [e for e in events if _concerns_letters(e) or may_notify(e)]
        self._session = session
        self._lock = any(_concerns_letters(e) for e in needing)
        self._calls = store.load_calls(session, {e.call_id for e in needing},
                                       self._lock) if needing else {}

    def get(self, call_id: str) -> Call | None:
        if call_id not in self._calls:
            self._calls[call_id] = store.load_call(self._session, call_id, self._lock)
        return self._calls[call_id]

    def changed(self, call_id: str) -> None:
        self._calls.pop(call_id, None)


def _concerns_letters(event: Event) -> bool:
    return isinstance(event, FACT_EVENTS) or is_release(event)


def _first_of_each_key(notes_per_event: list[list[Notification]]) -> list[Notification]:
    """The batch's messages, one per key as if each event had queued its own in turn: the
    first event's message stays (a later one would have found its key in the log),
    within one event the last (``queue`` keeps the last of a key it is given)."""
    kept: dict[str, Notification] = {}
    for notes in notes_per_event:
        for key, note in {note.notification_id: note for note in notes}.items():
            kept.setdefault(key, note)
    return list(kept.values())


def lock_calls(uow, events) -> None:
    """Before a batch of events: the locks of every call it concerns, in one order."""
    store.lock_calls(uow.session, {event.call_id for event in events})


def _keep_call(session, event: CallPublished, now: datetime) -> bool:
    """Keep the call the event carries if it is newer; True if kept."""
    try:
        call = call_from_wire(event.call)
    except InvalidCall as exc:
        raise PermanentFailure(f"call_published {event.event_id} carries an invalid call: "
                               f"{exc}") from exc
    if call.id != event.call_id or call.version != event.version:
        raise PermanentFailure(f"call_published {event.event_id} is for {event.call_id} "
                               f"version {event.version} but carries {call.id} version "
                               f"{call.version}")
    return store.save_call(session, call.id, call.version, event.call, now)


def _track_assignments(session, events: Sequence[Event], offsets_days) -> None:
    """The batch's assignments and their ends, a few statements for all: the outcome does
    not depend on their order (an end closes the expert's assignments made up to it,
    whether it arrived before or after them), so they need not go event by event."""
    store.end_assignments(session, [e for e in events if _ends_assignment(e)])
    store.add_assignments(session, [Assignment.from_event(e) for e in events
                                    if isinstance(e, EvaluatorAssigned)], offsets_days)


def _ends_assignment(event: Event) -> bool:
    return isinstance(event, EvaluatorReleased) or (
        isinstance(event, EvaluationReportSubmitted) and event.final)


def _completed_letters(facts: "_BatchFacts", event: Event, call: Call,
                       now: datetime) -> list[Notification]:
    """Letters of the proposals whose facts the event completed, once the call's letters
    are out (the release itself is :meth:`_BatchFacts.release`)."""
    changed = facts.update(event)
    if not facts.released(event.call_id):
        return []
    return result_letters(changed.values(), call, now, event)


class _BatchFacts:
    """The letter facts of the proposals a batch's events concern: read in one statement,
    folded in memory event after event in the batch's order (each event sees what the
    ones before it changed, as one by one), and written in one statement (:meth:`save`).
    A release reads every fact of its call, so what the batch changed is written first."""

    def __init__(self, session, events: Sequence[Event]):
        wanted = {pid for e in events if isinstance(e, FACT_EVENTS) for pid in _proposals(e)}
        self._session = session
        self._known = store.load_facts(session, proposal_ids=wanted) if wanted else {}
        self._changed: dict[str, LetterFacts] = {}
        self._released: dict[str, bool] = {}

    def withdrawn(self, proposal_id: str) -> bool:
        known = self._known.get(proposal_id)
        return known is not None and known.withdrawn

    def update(self, event: Event) -> dict[str, LetterFacts]:
        changed = update_facts(self._known, event)
        self._known.update(changed)
        self._changed.update(changed)
        return changed

    def released(self, call_id: str) -> bool:
        if call_id not in self._released:
            self._released[call_id] = store.released(self._session, call_id)
        return self._released[call_id]

    def release(self, event: Event, now: datetime, page: int) -> Iterator[list[LetterFacts]]:
        """Record the call's release; every fact of the call, ``page`` proposals at a
        time, for its letters. What the batch changed is written first, so the pages
        read it; the facts the batch's events need are in hand already (read when the
        batch began, kept up to date since)."""
        self.save(now)
        store.release(self._session, event.call_id, event.event_id, now)
        self._released[event.call_id] = True
        return store.facts_in_pages(self._session, event.call_id, page)

    def save(self, now: datetime) -> None:
        store.save_facts(self._session, self._changed, now)
        self._changed = {}


def _proposals(event: Event) -> list[str]:
    if isinstance(event, RankingPublished):
        return [entry["proposal_id"] for entries in (event.main, event.reserve, event.rejected)
                for entry in entries]
    return [event.proposal_id]
