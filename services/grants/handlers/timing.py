"""Time to inform and time to grant: the breach check of the clock tick, the metrics, and
the per-proposal report behind ``GET /timing``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.grants.adapters.metrics import (SERVICE, TIME_TARGET_BREACHES, TIME_TO_GRANT,
                                              TIME_TO_INFORM)
from services.grants.domain.timing import TTG, TTI, ProposalClock
from services.grants.handlers.flow import repository
from shared.calls.model import Call
from shared.events import TimeTargetBreached

_HISTOGRAMS = {TTI: TIME_TO_INFORM, TTG: TIME_TO_GRANT}


@dataclass(frozen=True)
class Observation:
    """A measure that just became known, to observe once its transaction committed."""

    measure: str  # tti | ttg
    call_id: str
    days: int


def observe(*observations: Observation | None) -> None:
    for item in observations:
        if item is not None:
            _HISTOGRAMS[item.measure].labels(SERVICE, item.call_id).observe(item.days)


def check_time_targets(uow, now: datetime, limit: int = 500) -> list[TimeTargetBreached]:
    """Report each breach once (TimeTargetBreached to the outbox, flag on the clock).

    Only clocks that can have breached by ``now`` are read, locked with SKIP LOCKED so
    replicas ticking together split them rather than report twice."""
    found: list[TimeTargetBreached] = []
    with uow:
        repo = repository(uow, now)
        for call_id in repo.call_ids():
            call = repo.call(call_id)
            for clock in repo.clocks_to_check(call, now, limit):
                breaches = clock.check(now, call.grants)
                if breaches:
                    repo.save_clock(clock)
                    uow.add_events(*breaches)
                    found += breaches
        uow.commit()
    for breach in found:
        TIME_TARGET_BREACHES.labels(SERVICE, breach.call_id, breach.measure).inc()
    return found


def timing_report(uow, now: datetime, call_id: str | None = None,
                  proposal_id: str | None = None) -> list[dict]:
    """TTI and TTG of every proposal this service has heard of (or of one)."""
    with uow:
        repo = repository(uow, now)
        report = []
        for row in repo.clock_rows(call_id, proposal_id):
            call = repo.call(row.call_id)
            report.append(_proposal_timing(repo.clock_from_row(row), call))
        return report


def _proposal_timing(clock: ProposalClock, call: Call | None) -> dict:
    known = call is not None
    tti, ttg = (clock.time_to_inform, clock.time_to_grant) if known else (None, None)
    return {
        "proposal_id": clock.proposal_id, "call_id": clock.call_id,
        "deadline": clock.deadline, "withdrawn": clock.withdrawn,
        "tti": {"informed_at": clock.informed_at,
                "days": tti.days if tti else None, "months": tti.months if tti else None,
                "target_months": call.grants.tti_target_months if known else None,
                "limit_at": clock.limit(TTI, call.grants) if known else None,
                "breached": clock.tti_breached},
        "ttg": {"expected": clock.grant_expected or clock.signed_at is not None,
                "signed_at": clock.signed_at,
                "days": ttg.days if ttg else None, "months": ttg.months if ttg else None,
                "target_months": call.grants.ttg_target_months if known else None,
                "limit_at": clock.limit(TTG, call.grants) if known else None,
                "breached": clock.ttg_breached},
    }
