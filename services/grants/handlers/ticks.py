"""The clock tick (every second): what happens because time passed, not because a message
arrived. Idempotent and safe with several replicas: each piece of work is claimed with a
row lock (SKIP LOCKED on PostgreSQL) and re-checked under it.

1. invite the main lists that became due (the information stage's instant passed even if
   its ``timetable_stage_reached`` has not arrived);
2. end the files whose coordinator missed a deadline (grant_declined -> reserve chain);
3. report each time-to-inform / time-to-grant breach once (time_target_breached);
4. refresh the grants-by-state gauge.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from services.grants.adapters.metrics import GRANTS_BY_STATE, SERVICE
from services.grants.domain.grant import State
from services.grants.handlers.flow import end_file, progress_topics, repository
from services.grants.handlers.timing import check_time_targets
from shared.clock import ClockNotSet

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    invited_topics: int = 0
    expired_files: int = 0
    breaches: int = 0


def tick(uow, clock, authority_email: str) -> TickReport:
    try:
        now = clock.now()
    except ClockNotSet as exc:
        _log.debug("grants tick skipped: %s", exc)
        return TickReport()
    report = TickReport(invited_topics=invite_due(uow, now, authority_email),
                        expired_files=expire_overdue(uow, now, authority_email),
                        breaches=len(check_time_targets(uow, now)))
    refresh_gauges(uow, now)
    return report


def invite_due(uow, now: datetime, authority_email: str) -> int:
    with uow:
        invited = progress_topics(uow, repository(uow, now), now, authority_email,
                                  skip_locked=True)
        uow.commit()
    return invited


def expire_overdue(uow, now: datetime, authority_email: str) -> int:
    """End each overdue file in its own transaction, so one failing file (logged) does not
    hold back the others."""
    with uow:
        candidates = repository(uow, now).overdue_grant_ids(now)
    ended = 0
    for grant_id in candidates:
        try:
            with uow:
                repo = repository(uow, now)
                grant = repo.grant(grant_id, lock=True, skip_locked=True)
                if grant is None or grant.missed_deadline(now) is None:
                    continue  # another replica has it, or it moved on meanwhile
                end_file(uow, repo, grant, repo.call(grant.call_id), now, authority_email,
                         lambda g: g.expire(now))
                uow.commit()
                ended += 1
        except Exception:
            _log.exception("could not end overdue grant %s; retried on the next tick", grant_id)
    if ended:
        _log.info("ended %d overdue grant file(s) at %s", ended, now.isoformat())
    return ended


def refresh_gauges(uow, now: datetime) -> None:
    with uow:
        counts = repository(uow, now).count_by_state()
    calls = {call_id for call_id, _, _ in counts}
    for call_id in calls:
        for state in State:
            GRANTS_BY_STATE.labels(SERVICE, call_id, state.value).set(0)
    for call_id, state, count in counts:
        GRANTS_BY_STATE.labels(SERVICE, call_id, state).set(count)
