"""The eligibility pre-check of a working copy (read only: nothing is written)."""
from __future__ import annotations

from datetime import datetime

from services.submission.adapters.serialization import screening_to_json
from services.submission.domain.deadline import utc_iso
from services.submission.domain.precheck import precheck as run_precheck
from services.submission.domain.proposal import State
from services.submission.handlers.proposals import _load


def precheck(uow, principal, proposal_id: str, now: datetime) -> dict:
    """``PrecheckSchema``: every rule the working copy fails if it were received now."""
    with uow:
        repo, proposal, _, call = _load(uow, principal, proposal_id, lock=False)
        own = [] if principal.is_operations else [
            found[0] for row in repo.summaries(contact=principal.email, call_id=call.id,
                                               limit=1000)
            if row.id != proposal_id and row.state in (State.SUBMITTED.value,
                                                       State.FROZEN.value)
            for found in [repo.get(row.id)] if found is not None]
        result = run_precheck(call, proposal, now, own)
    return {**screening_to_json(result), "checked_at": utc_iso(now),
            "passed": result.passed}
