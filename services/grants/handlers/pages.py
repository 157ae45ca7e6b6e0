"""What the grant pages need besides the API's handlers: the call's zone and currency."""
from __future__ import annotations

from datetime import datetime

from services.grants.handlers.flow import repository


def call_display(uow, call_id: str, now: datetime) -> dict:
    with uow:
        call = repository(uow, now).call(call_id)
    if call is None:  # a file exists only for a known call; keep the page readable anyway
        return {"timezone": "UTC", "currency": "EUR"}
    return {"timezone": call.timezone, "currency": call.currency}
