"""The steps every grants handler shares: opening ledgers and inviting main lists when
both the call and the ranking are known and the invitation is due, and ending a file
with its reserve chain. They work inside the caller's transaction and never commit.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from services.grants.adapters.repository import GrantsRepository
from services.grants.domain.grant import GrantFile, State
from services.grants.domain.terms import (INFORMATION_STAGE, invitation_due,
                                          invitation_time)
from shared.calls.model import Call
from shared.events import GrantDeclined

_log = logging.getLogger(__name__)


def repository(uow, now: datetime) -> GrantsRepository:
    return GrantsRepository(uow.session, now)


def progress_topics(uow, repo: GrantsRepository, now: datetime, authority_email: str,
                    call_id: str | None = None, skip_locked: bool = False) -> int:
    """Open every ledger whose call is known and invite every main list that is due.

    Called after each fact that can make one due (call, ranking, stage) and on the clock
    tick; returns how many main lists were invited."""
    invited = 0
    for row in repo.unsettled_ledger_rows(call_id, skip_locked=skip_locked):
        call = repo.call(row.call_id)
        if call is None:
            continue  # the ranking came before the call: wait for call_published
        stage_at = repo.stage_reached_at(row.call_id, INFORMATION_STAGE)
        due = invitation_due(call, row.ranked_at, now, stage_at)
        if row.opened and not due:
            # nothing to do until the invitation: reading the ranking again on every tick
            # (10,000 entries through marshmallow) kept grants at a full core for the
            # whole ranking stage of a 10,000-proposal call
            continue
        ledger = repo.ledger(row, call)
        if not row.opened:
            for proposal_id in withdrawn_among(repo, [c.proposal_id for c in ledger.reserve],
                                               row.call_id):
                ledger.drop_reserve(proposal_id)
        invited_at = None
        if due:
            invited_at = invitation_time(call, row.ranked_at, stage_at)
            files = ledger.invite_main_list(call, invited_at, authority_email)
            for grant in files:
                start_file(uow, repo, grant)
            _withdraw_already_withdrawn(uow, repo, ledger, files, call, authority_email)
            invited += 1
        if invited_at is not None or not row.opened:
            repo.save_ledger(ledger, invited_at)
    return invited


def withdrawn_among(repo: GrantsRepository, proposal_ids, call_id: str) -> list[str]:
    return [pid for pid in proposal_ids if repo.clock(pid, call_id).withdrawn]


def _withdraw_already_withdrawn(uow, repo, ledger, files: list[GrantFile], call: Call,
                                authority_email: str) -> None:
    """A main-list proposal withdrawn before its invitation: its file opens and ends at
    once, so the record says why and its budget goes down the reserve chain."""
    for grant in files:
        if repo.clock(grant.proposal_id, grant.call_id).withdrawn:
            end_file(uow, repo, grant, call, grant.invited_at, authority_email,
                     lambda g: g.withdraw(g.invited_at), ledger=ledger)


def start_file(uow, repo: GrantsRepository, grant: GrantFile) -> None:
    """Store a new file with its GrantPreparationStarted; its time to grant starts counting."""
    repo.add_grant(grant)
    uow.add_events(*grant.pull_events())
    clock = repo.clock(grant.proposal_id, grant.call_id)
    clock.invited()
    repo.save_clock(clock)


def end_file(uow, repo: GrantsRepository, grant: GrantFile, call: Call, now: datetime,
             authority_email: str, end: Callable[[GrantFile], object], *,
             ledger=None) -> list[GrantFile]:
    """Apply ``end`` (decline, withdraw or expire) to an open file, release its grant to the
    topic's reserve chain and open a file for each promoted reserve proposal.

    Returns the promoted files. The caller holds the file's row lock; the ledger is locked
    here (file before ledger, everywhere) unless the caller passes the one it holds."""
    end(grant)
    events = grant.pull_events()
    declined = next(e for e in events if isinstance(e, GrantDeclined))
    repo.save_grant(grant)
    uow.add_events(*events)
    clock = repo.clock(grant.proposal_id, grant.call_id)
    clock.grant_ended()
    repo.save_clock(clock)
    own_ledger = ledger is None
    if own_ledger:
        row = repo.ledger_row(grant.call_id, grant.topic_id, lock=True)
        ledger = repo.ledger(row, call)
    promoted = ledger.on_grant_declined(declined, call, now, authority_email)
    for promotion, new_file in zip(ledger.pull_events(), promoted):
        uow.add_events(promotion)
        start_file(uow, repo, new_file)
    if own_ledger:
        repo.save_ledger(ledger)
    if promoted:
        _log.info("grant %s ended (%s): promoted %s", grant.grant_id, declined.reason,
                  ", ".join(f.proposal_id for f in promoted))
    return promoted


def is_open(grant: GrantFile) -> bool:
    return grant.state in (State.INVITED, State.DATA_CONFIRMED, State.COORDINATOR_SIGNED)
