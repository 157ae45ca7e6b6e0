"""Event handlers, run by ``UnitOfWork.consume`` (``on_x(uow, event, ...)``; never commit).

Each tolerates redelivery (consume skips a processed event id, and every effect is also
idempotent by key) and out-of-order arrival: a ranking before its call waits for the call,
a withdrawal before the ranking is remembered on the proposal's clock, a stage reached
before the ranking invites when the ranking comes.
"""
from __future__ import annotations

import logging
from datetime import datetime

from services.grants.domain.errors import GrantError
from services.grants.domain.reserve import check_ranking
from services.grants.domain.terms import INFORMATION_STAGE
from services.grants.handlers.flow import end_file, is_open, progress_topics, repository
from services.grants.handlers.timing import Observation, observe
from shared.calls.schema import InvalidCall
from shared.calls.loader import call_from_wire
from shared.events import (CallPublished, DeadlineClosed, NotificationDelivered,
                           ProposalWithdrawn, RankingPublished, TimetableStageReached)
from shared.messaging.consumer import PermanentFailure

_log = logging.getLogger(__name__)

#: the notifications template whose delivery stops a proposal's time to inform
RESULT_LETTER = "result_letter"


def on_call_published(uow, event: CallPublished, now: datetime, authority_email: str) -> None:
    """Keep the newest version of the call; rankings waiting for it open now."""
    try:
        call = call_from_wire(event.call)
    except InvalidCall as exc:  # the same document will never validate: dead-letter it
        raise PermanentFailure(f"call {event.call_id} version {event.version} does not "
                               f"validate: {exc}") from exc
    if call.id != event.call_id:
        raise PermanentFailure(f"call_published for {event.call_id} carries call {call.id}")
    repo = repository(uow, now)
    if repo.save_call(call, event.call):
        progress_topics(uow, repo, now, authority_email, call.id)


def on_stage_reached(uow, event: TimetableStageReached, now: datetime,
                     authority_email: str) -> None:
    """Record the stage; at information to applicants, ranked main lists are invited."""
    repo = repository(uow, now)
    repo.record_stage(event.call_id, event.stage, event.at)
    if event.stage == INFORMATION_STAGE:
        progress_topics(uow, repo, now, authority_email, event.call_id)


def on_ranking_published(uow, event: RankingPublished, now: datetime,
                         authority_email: str) -> None:
    """Keep the topic's ranking (its ledger opens once the call is known) and start the
    time-to-inform clock of every ranked proposal; invite at once if it is due."""
    try:
        check_ranking(event)
    except GrantError as exc:  # the same payload will never open a ledger
        raise PermanentFailure(str(exc)) from exc
    repo = repository(uow, now)
    row = repo.ledger_row(event.call_id, event.topic_id, lock=True)
    if row is None:
        repo.store_ranking(event, replace=False)
    elif row.ranking_event_id != event.event_id:
        if row.main_invited:
            raise PermanentFailure(
                f"topic {event.topic_id} is already in grant preparation (ranking "
                f"{row.ranking_event_id}); ranking {event.event_id} cannot replace it")
        if event.occurred_at >= row.ranked_at:  # a newer ranking nobody acted upon yet
            repo.store_ranking(event, replace=True)
        else:
            _log.warning("ranking %s of %s is older than the one kept; ignored",
                         event.event_id, event.topic_id)
    repo.start_clocks(event.call_id, [entry["proposal_id"] for entry in
                                      (*event.main, *event.reserve, *event.rejected)])
    progress_topics(uow, repo, now, authority_email, event.call_id)


def on_proposal_withdrawn(uow, event: ProposalWithdrawn, now: datetime,
                          authority_email: str) -> None:
    """An open file ends (withdrawn) and its budget goes down the reserve chain; a
    waiting reserve proposal is never promoted; either way nothing is measured any more."""
    repo = repository(uow, now)
    grant = repo.grant_of_proposal(event.proposal_id, lock=True)
    if grant is not None and is_open(grant):
        at = max(now, grant.invited_at)
        end_file(uow, repo, grant, repo.call(grant.call_id), at, authority_email,
                 lambda g: g.withdraw(at, causation_id=event.event_id))
    elif grant is None:
        row = repo.ledger_row(event.call_id, event.topic_id, lock=True)
        if row is not None and row.opened:
            ledger = repo.ledger(row, repo.call(event.call_id))
            ledger.drop_reserve(event.proposal_id)
            repo.save_ledger(ledger)
        # a ledger not opened yet drops it when it opens (the clock says withdrawn)
    else:
        _log.info("proposal %s withdrawn after its grant file ended (%s); file unchanged",
                  event.proposal_id, grant.state.value)
    clock = repo.clock(event.proposal_id, event.call_id)
    clock.proposal_withdrawn()
    repo.save_clock(clock)


def on_deadline_closed(uow, event: DeadlineClosed, now: datetime) -> None:
    """Every on-time proposal is watched for its time to inform from now on, so a missing
    result letter is flagged even for proposals that never reach a ranking."""
    repo = repository(uow, now)
    repo.start_clocks(event.call_id, [entry["proposal_id"] for entry in event.manifest])


def is_result_letter(event: NotificationDelivered) -> bool:
    """Only a result letter's delivery has an effect here; any other is ignored."""
    return event.template == RESULT_LETTER and bool(event.proposal_id)


def on_notification_delivered(uow, event: NotificationDelivered,
                              now: datetime) -> Observation | None:
    """A result letter reached a contact: the proposal's time to inform stops (the earliest
    delivery counts). Returns the measure to observe once committed, the first time."""
    if not is_result_letter(event):
        return None
    [observation] = _record_letters(uow, [event], now)
    return observation


def _record_letters(uow, letters: list[NotificationDelivered],
                    now: datetime) -> list[Observation | None]:
    """Result letters onto their proposals' clocks, read and written with a few statements
    whatever their number, the clocks locked in proposal order (so concurrent batches wait
    rather than deadlock); one measure (or None) per proposal, in proposal order."""
    by_proposal: dict[str, list[NotificationDelivered]] = {}
    for letter in letters:
        by_proposal.setdefault(letter.proposal_id, []).append(letter)
    repo = repository(uow, now)
    clocks = repo.clocks({pid: its[0].call_id for pid, its in by_proposal.items()})
    observations = [_letters_delivered(clocks[pid], by_proposal[pid])
                    for pid in sorted(by_proposal)]
    repo.save_clocks(list(clocks.values()))
    return observations


def _letters_delivered(clock, letters: list[NotificationDelivered]) -> Observation | None:
    """Record a proposal's delivered letters on its clock; the time to inform to observe
    when these are its first."""
    first = clock.informed_at is None
    for letter in letters:
        clock.letter_delivered(letter.sent_at)
    if first and clock.deadline is not None:
        return Observation("tti", clock.call_id, clock.time_to_inform.days)
    return None


def record_deliveries(uow, events: list[NotificationDelivered], now: datetime) -> None:
    """A batch of deliveries (result letters go out in bulk) in one transaction
    (:func:`_record_letters`, as :func:`on_notification_delivered` for one); the measures
    are observed once it committed.

    Deliveries of other templates (three in four at the 10,000-proposal call) are dropped
    before the claim: they have no effect, so there is nothing to keep from happening twice,
    and claiming them cost a processed-event row and a transaction each batch."""
    events = [event for event in events if is_result_letter(event)]
    if not events:
        return
    observations: list[Observation | None] = []

    def apply(uow, fresh) -> None:
        observations[:] = _record_letters(uow, fresh, now)  # a batch tried again: afresh
    uow.consume_batch(events, apply, bulk=True)
    observe(*observations)
