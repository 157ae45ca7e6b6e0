"""What the service does with each integration event it receives.

One function, :func:`on_event`, run by ``UnitOfWork.consume`` (so its effects and the
processed event id commit together; a redelivery does nothing):

1. keep the event for the daily digest (the service's own outcomes it reads from its
   delivery log);
2. ``call_published``: keep the call (the latest version) for time zone, rules, redress;
3. evaluator assignments, releases and final reports: track what reminders are owed;
4. result-letter facts (screening, withdrawal, consensus, ranking): fold them into each
   proposal's persisted facts; at the information-to-applicants milestone, or for facts
   completed after it, queue the letters that became possible;
5. queue the messages the event causes now (domain ``route``).

Failures: an event of a call whose ``call_published`` has not arrived raises
:class:`CallNotKnownYet` (retried with backoff, then dead-lettered for a replay: the
service never guesses a call's time zone or deadlines); a ``call_published`` carrying an
invalid call is a :class:`PermanentFailure`.
"""
from __future__ import annotations

from datetime import datetime

from services.notifications.adapters import store
from services.notifications.adapters.sign_in_links import with_sign_in_links
from services.notifications.handlers.delivery import queue
from services.notifications.domain.letters import is_release, result_letters, update_facts
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


def on_event(uow, event: Event, now: datetime, settings) -> int:
    """Handle one event (see the module docstring); returns how many messages it queued."""
    session = uow.session
    store.record_seen(session, event)
    if isinstance(event, CallPublished):
        _keep_call(session, event, now)
    _track_assignment(session, event, settings.reminder_days)
    concerns_letters = isinstance(event, FACT_EVENTS) or is_release(event)
    if not (concerns_letters or may_notify(event)):
        return 0
    # the call's row lock serialises the handlers of one call's letters: a ranking that
    # commits while the milestone is being handled cannot be missed by both
    call = store.load_call(session, event.call_id, lock=concerns_letters)
    if call is None:
        raise CallNotKnownYet(f"{event.event_type()} {event.event_id} concerns call "
                              f"{event.call_id!r}, whose call_published was not seen yet")
    notes = route(event, call, settings.operations)
    if isinstance(event, ProposalScreened) and _withdrawn(session, event.proposal_id):
        notes = []  # withdrawn at or after the deadline: it will not be evaluated
    if concerns_letters:
        notes += _letters(session, event, call, now)
    return queue(uow, with_sign_in_links(notes, settings.pages), now)


def lock_calls(uow, events) -> None:
    """Before a batch of events: the locks of every call it concerns, in one order."""
    store.lock_calls(uow.session, {event.call_id for event in events})


def _keep_call(session, event: CallPublished, now: datetime) -> None:
    try:
        call = call_from_wire(event.call)
    except InvalidCall as exc:
        raise PermanentFailure(f"call_published {event.event_id} carries an invalid call: "
                               f"{exc}") from exc
    if call.id != event.call_id or call.version != event.version:
        raise PermanentFailure(f"call_published {event.event_id} is for {event.call_id} "
                               f"version {event.version} but carries {call.id} version "
                               f"{call.version}")
    store.save_call(session, call.id, call.version, event.call, now)


def _track_assignment(session, event: Event, offsets_days) -> None:
    if isinstance(event, EvaluatorAssigned):
        store.add_assignment(session, Assignment.from_event(event), offsets_days)
    elif isinstance(event, EvaluatorReleased) or (
            isinstance(event, EvaluationReportSubmitted) and event.final):
        store.end_assignments(session, event.event_id, event.proposal_id, event.expert_id,
                              event.occurred_at)


def _letters(session, event: Event, call: Call, now: datetime) -> list[Notification]:
    """Letters the event makes possible: all of the call's at the milestone, otherwise
    those of the proposals whose facts it completed, once the call's letters are out."""
    if is_release(event):
        store.release(session, event.call_id, event.event_id, now)
        facts = store.load_facts(session, call_id=event.call_id)
        return result_letters(facts.values(), call, now, event)
    changed = update_facts(store.load_facts(session, proposal_ids=_proposals(event)), event)
    store.save_facts(session, changed, now)
    if not store.released(session, event.call_id):
        return []
    return result_letters(changed.values(), call, now, event)


def _withdrawn(session, proposal_id: str) -> bool:
    facts = store.load_facts(session, proposal_ids=[proposal_id]).get(proposal_id)
    return facts is not None and facts.withdrawn


def _proposals(event: Event) -> list[str]:
    if isinstance(event, RankingPublished):
        return [entry["proposal_id"] for entries in (event.main, event.reserve, event.rejected)
                for entry in entries]
    return [event.proposal_id]
