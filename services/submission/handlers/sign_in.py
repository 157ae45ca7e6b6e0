"""Who may ask for a link to the applicants' pages: anybody (an applicant may not have a
proposal yet). The mail names the call with the latest deadline; before any call is
published there is nothing to apply to and no mail is sent (the page looks the same)."""
from __future__ import annotations

import uuid
from datetime import datetime

from services.submission.adapters.call_store import CallStore
from shared.events import ApplicantSignInRequested


def announce(uow, email: str, next_url: str, now: datetime) -> ApplicantSignInRequested | None:
    calls = CallStore(uow.session).all_current()
    if not calls:
        return None
    call = max(calls, key=lambda published: published.call.deadline).call
    return ApplicantSignInRequested(call_id=call.id, correlation_id=f"sign-in-{uuid.uuid4()}",
                                    occurred_at=now, email=email, next_url=next_url)
