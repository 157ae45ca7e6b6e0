"""Event handlers: every event goes into the timeline and the projections.

Run by ``uow.consume`` (the processed-event claim commits with the effect), so a
redelivered event changes nothing. Projections are recomputed from the stored facts of
each proposal the event concerns, which makes the result independent of arrival order.
A failure here (the database away, a lock timeout) raises and is retried by the consumer;
nothing in an event that loaded can make these handlers fail for good.
"""
from __future__ import annotations

from datetime import datetime, timezone

from services.operations.adapters.projections import Projections, insert_for
from services.operations.adapters.tables import event_counts, timeline
from services.operations.domain import lifecycle
from services.operations.domain.facts import facts_of
from services.operations.domain.reserve import reserve_changes
from services.operations.domain.timetable import Reached, signature_ended
from shared.events import (CallPublished, EvaluationReportSubmitted, EvaluatorAssigned,
                           EvaluatorReleased, NotificationDeferred, NotificationDelivered,
                           NotificationFailed,
                           RankingPublished, TimetableStageReached, dump, load)
from shared.web import NotFound


def record(uow, event) -> None:
    """Append the event to the timeline (its event id is the key: a replay adds nothing)
    and count it per type."""
    payload = dump(event)
    uow.session.execute(timeline.insert().values(
        event_id=event.event_id, event_type=event.event_type(), producer=event.producer,
        call_id=event.call_id, correlation_id=event.correlation_id,
        proposal_id=getattr(event, "proposal_id", None), occurred_at=event.occurred_at,
        recorded_at=datetime.now(timezone.utc), payload=payload))
    statement = insert_for(uow.session, event_counts).values(
        call_id=event.call_id, event_type=event.event_type(), count=1)
    uow.session.execute(statement.on_conflict_do_update(
        index_elements=["call_id", "event_type"], set_={"count": event_counts.c.count + 1}))


def on_event(uow, event, now: datetime) -> None:
    """The effect of any event: timeline, counters, proposal views, call, topic and loads.
    ``now`` is the service clock's time (stamped on recomputed views).

    Every event of a call is projected holding the call's lock (taken first, so all
    transactions lock in the same order), so concurrent workers and replicas never build
    a view from fewer facts than another one already stored, and a rebuild sees a still
    projection."""
    repo = Projections(uow.session)
    repo.lock_call(event.call_id)
    record(uow, event)
    project(repo, event, now)


def lock_calls(uow, events) -> None:
    """Take the lock of every call a batch concerns, in one order for everybody, so that
    batches of several calls never deadlock each other."""
    repo = Projections(uow.session)
    for call_id in sorted({event.call_id for event in events}):
        repo.lock_call(call_id)


def project(repo: Projections, event, now: datetime) -> None:
    """Apply one event to the projections (the call's lock is held)."""
    facts = facts_of(event)
    repo.add_facts(event.call_id, facts)
    effect = _EFFECTS.get(type(event))
    if effect is not None:
        effect(repo, event)
    call_wide = isinstance(event, (CallPublished, TimetableStageReached))
    if not call_wide and event.event_type() not in lifecycle.LIFECYCLE_EVENTS:
        return  # notifications, time targets: timeline only
    topics = set()  # only ranked proposals take part in the reserve rule
    for proposal_id in sorted({pid for pid, _ in facts}):
        view = recompute(repo, event.call_id, proposal_id, now)
        if view.topic_id and view.list is not None:
            topics.add(view.topic_id)
    if call_wide:
        topics |= set(repo.ranked_topic_ids(event.call_id))
    settle(repo, event.call_id, topics, now)


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
        replayed = 0
        for payload in repo.call_payloads(call_id):
            project(repo, load(payload), now)
            replayed += 1
        proposals = len(repo.views(call_id))
        uow.commit()
    return {"call_id": call_id, "events": replayed, "proposals": proposals}


def recompute(repo: Projections, call_id: str, proposal_id: str, now: datetime):
    """Derive the proposal's view from all its facts and store it."""
    view = lifecycle.derive(proposal_id, repo.facts(proposal_id, lifecycle.LIFECYCLE_EVENTS))
    repo.save_view(call_id, view, now)
    return view


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


def _assigned(repo: Projections, e: EvaluatorAssigned) -> None:
    repo.assignment(e.call_id, e.expert_id, e.proposal_id, e.topic_id, e.expert_name,
                    e.expert_email, assigned_at=e.occurred_at)


def _released(repo: Projections, e: EvaluatorReleased) -> None:
    repo.assignment(e.call_id, e.expert_id, e.proposal_id, e.topic_id, e.expert_name,
                    e.expert_email, released_at=e.occurred_at)


def _report(repo: Projections, e: EvaluationReportSubmitted) -> None:
    repo.assignment(e.call_id, e.expert_id, e.proposal_id, e.topic_id, report_final=e.final)


def _delivered(repo: Projections, e: NotificationDelivered) -> None:
    repo.count_notification(e.call_id, e.template, "delivered")
    if e.after_deferral:
        repo.count_notification(e.call_id, e.template, "recovered")


def _failed(repo: Projections, e: NotificationFailed) -> None:
    repo.count_notification(e.call_id, e.template, "failed")
    if e.after_deferral:
        repo.count_notification(e.call_id, e.template, "recovered")


def _deferred(repo: Projections, e: NotificationDeferred) -> None:
    """Counted once per message (its first deferral); its delivered or failed event says
    ``after_deferral``, so "retrying" is deferred less recovered, whatever the order."""
    repo.count_notification(e.call_id, e.template, "deferred")


_EFFECTS = {CallPublished: _published, TimetableStageReached: _stage,
            RankingPublished: _ranking, EvaluatorAssigned: _assigned,
            EvaluatorReleased: _released, EvaluationReportSubmitted: _report,
            NotificationDelivered: _delivered, NotificationFailed: _failed,
            NotificationDeferred: _deferred}
