"""Event handlers: every event goes into the timeline and the projections.

Run by ``uow.consume_batch(..., bulk=True)`` (the processed-event claims commit with the
effect), so a redelivered event changes nothing; a batch costs a few statements, not a
few per event. Projections are recomputed from the stored facts of
each proposal the event concerns, which makes the result independent of arrival order.
A failure here (the database away, a lock timeout) raises and is retried by the consumer;
nothing in an event that loaded can make these handlers fail for good.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from services.operations.adapters.projections import Projections
from services.operations.adapters.tables import timeline
from services.operations.domain import lifecycle
from services.operations.domain.facts import facts_of
from services.operations.domain.loads import Assignment
from services.operations.domain.reserve import reserve_changes
from services.operations.domain.timetable import Reached, signature_ended
from shared.events import (CallPublished, EvaluationReportSubmitted, EvaluatorAssigned,
                           EvaluatorReleased, NotificationDeferred, NotificationDelivered,
                           NotificationFailed,
                           RankingPublished, TimetableStageReached, dump, load)
from shared.web import NotFound


def on_events(uow, events: list, now: datetime) -> None:
    """The effect of a batch of events (``consume_batch(..., bulk=True)``): timeline,
    counters, proposal views, call, topic and loads, with a few statements per batch
    rather than per event. ``now`` is the service clock's time (stamped on recomputed
    views).

    The result is the one-by-one result: views are derived from each proposal's whole set
    of facts, counters add up and assignment records fold order-free, so applying the
    batch's facts first and deriving each touched proposal once gives what deriving it
    after each event gives.

    Every event of a call is projected holding the call's lock (taken first, so all
    transactions lock in the same order), so concurrent workers and replicas never build
    a view from fewer facts than another one already stored, and a rebuild sees a still
    projection."""
    lock_calls(uow, events)  # held already when it prepared the batch: taken once
    record(uow, events)
    project(Projections(uow.session), events, now)


def on_event(uow, event, now: datetime) -> None:
    """One event: a batch of one."""
    on_events(uow, [event], now)


def lock_calls(uow, events) -> None:
    """Take the lock of every call a batch concerns, in one order for everybody, so that
    batches of several calls never deadlock each other."""
    repo = Projections(uow.session)
    for call_id in sorted({event.call_id for event in events}):
        repo.lock_call(call_id)


def record(uow, events: list) -> None:
    """Append the events to the timeline (the event id is the key: a replay adds nothing)
    and count them per type."""
    recorded_at = datetime.now(timezone.utc)
    uow.session.execute(timeline.insert(), [
        {"event_id": event.event_id, "event_type": event.event_type(),
         "producer": event.producer, "call_id": event.call_id,
         "correlation_id": event.correlation_id,
         "proposal_id": getattr(event, "proposal_id", None),
         "occurred_at": event.occurred_at, "recorded_at": recorded_at, "payload": dump(event)}
        for event in events])
    Projections(uow.session).count_events(
        Counter((event.call_id, event.event_type()) for event in events))


def project(repo: Projections, events: list, now: datetime) -> None:
    """Apply events to the projections, call by call (each call's lock is held)."""
    by_call: dict[str, list] = {}
    for event in events:
        by_call.setdefault(event.call_id, []).append(event)
    for call_id, call_events in sorted(by_call.items()):
        _project_call(repo, call_id, call_events, now)


def _project_call(repo: Projections, call_id: str, events: list, now: datetime) -> None:
    facts, touched, call_wide = [], set(), False
    assignment_facts, outcomes = [], Counter()
    for event in events:
        event_facts = facts_of(event)
        facts += event_facts
        effect = _CALL_EFFECTS.get(type(event))
        if effect is not None:
            effect(repo, event)  # rare (publication, stages, rankings): one at a time, in order
        if type(event) in _ASSIGNMENT_FACTS:
            assignment_facts.append(_ASSIGNMENT_FACTS[type(event)](event))
        for outcome in _notification_outcomes(event):
            outcomes[(call_id, event.template, outcome)] += 1
        if isinstance(event, (CallPublished, TimetableStageReached)):
            call_wide = True
        elif event.event_type() in lifecycle.LIFECYCLE_EVENTS:
            touched |= {pid for pid, _ in event_facts}
        # the others (notifications, time targets) only go into timelines
    repo.add_facts(call_id, facts)
    repo.merge_assignments(call_id, assignment_facts)
    repo.count_notifications(outcomes)
    if not touched and not call_wide:
        return
    # only ranked proposals take part in the reserve rule
    topics = recompute(repo, call_id, touched, now)
    if call_wide:
        topics |= set(repo.ranked_topic_ids(call_id))
    settle(repo, call_id, topics, now)


#: events projected together by a rebuild (as a consumer batch would be)
_REBUILD_PAGE = 500


def rebuild(uow, call_id: str, now: datetime) -> dict:
    """Rebuild every projection of a call from its timeline (the audit log), in one
    transaction: after a change of the derivation rules, or to repair. Idempotent."""
    with uow:
        repo = Projections(uow.session)
        if repo.call_row(call_id) is None:
            raise NotFound(f"no call {call_id!r} is known to operations",
                           errors=[{"field": "call_id", "rule": "unknown call"}])
        repo.lock_call(call_id)
        repo.clear(call_id)
        payloads = repo.call_payloads(call_id)
        for start in range(0, len(payloads), _REBUILD_PAGE):
            project(repo, [load(p) for p in payloads[start:start + _REBUILD_PAGE]], now)
        replayed = len(payloads)
        proposals = repo.proposal_counts().get(call_id, 0)
        uow.commit()
    return {"call_id": call_id, "events": replayed, "proposals": proposals}


#: proposals whose views are derived together: a closing or a ranking names every
#: proposal of a topic, and reading all their facts (with data) at once was operations'
#: peak memory, growing with the call
RECOMPUTE_PAGE = 1000


def recompute(repo: Projections, call_id: str, proposal_ids, now: datetime) -> set[str]:
    """Derive each proposal's view from all its facts and store them, a page of proposals
    at a time; the topics of those ranked (the ones the reserve rule must settle)."""
    ranked_topics: set[str] = set()
    ids = sorted(proposal_ids)
    for start in range(0, len(ids), RECOMPUTE_PAGE):
        facts = repo.facts_by_proposal(ids[start:start + RECOMPUTE_PAGE],
                                       lifecycle.LIFECYCLE_EVENTS)
        views = [lifecycle.derive(pid, facts[pid]) for pid in sorted(facts)]
        repo.save_views(call_id, views, now)
        ranked_topics |= {view.topic_id for view in views
                          if view.topic_id and view.list is not None}
    return ranked_topics


def settle(repo: Projections, call_id: str, topic_ids, now: datetime) -> None:
    """Apply the reserve rule (domain.reserve) to the ranked proposals of each topic."""
    ranked = {t: repo.standings(call_id, t) for t in sorted(topic_ids)}
    ranked = {t: standings for t, standings in ranked.items() if standings}
    if not ranked:
        return
    row = repo.call_row(call_id)
    call = repo.call_of(row)
    ended = signature_ended(call, repo.reached_of(row))
    budgets = {t.topic_id: t.budget for t in repo.topic_infos(call_id, call)}
    for topic_id, standings in ranked.items():
        for proposal_id, state in reserve_changes(standings, budgets.get(topic_id),
                                                  ended).items():
            repo.set_state(proposal_id, state,
                           state if state in lifecycle.FINAL_STATES else None, now)


# ------------------------------------------------------------------ call-level effects
def _published(repo: Projections, e: CallPublished) -> None:
    repo.publish_call(e.call_id, e.version, e.title, e.call)


def _stage(repo: Projections, e: TimetableStageReached) -> None:
    repo.reach(e.call_id, Reached(e.stage, e.label, e.at))


def _ranking(repo: Projections, e: RankingPublished) -> None:
    repo.rank_topic(e.call_id, e.topic_id, e.budget, e.funded_total, e.event_id, e.occurred_at)


_CALL_EFFECTS = {CallPublished: _published, TimetableStageReached: _stage,
                 RankingPublished: _ranking}

#: what each assignment event says about its (expert, proposal) record
_ASSIGNMENT_FACTS = {
    EvaluatorAssigned: lambda e: Assignment(e.expert_id, e.proposal_id, e.topic_id,
                                            e.expert_name, e.expert_email,
                                            assigned_at=e.occurred_at),
    EvaluatorReleased: lambda e: Assignment(e.expert_id, e.proposal_id, e.topic_id,
                                            e.expert_name, e.expert_email,
                                            released_at=e.occurred_at),
    EvaluationReportSubmitted: lambda e: Assignment(e.expert_id, e.proposal_id, e.topic_id,
                                                    report_final=e.final),
}


def _notification_outcomes(event) -> list[str]:
    """What a notification outcome counts. A deferral is counted once per message (its
    first deferral); its delivered or failed event says ``after_deferral``, so "retrying"
    is deferred less recovered, whatever the order."""
    if isinstance(event, NotificationDeferred):
        return ["deferred"]
    if isinstance(event, (NotificationDelivered, NotificationFailed)):
        outcome = "delivered" if isinstance(event, NotificationDelivered) else "failed"
        return [outcome, "recovered"] if event.after_deferral else [outcome]
    return []
