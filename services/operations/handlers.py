"""Handlers of the operations service."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from services.operations.adapters.tables import event_counts, timeline
from shared.events import dump


def record(uow, event) -> None:
    """Append the event to the timeline (its event id is the key: a replay adds nothing)."""
    payload = dump(event)
    uow.session.execute(timeline.insert().values(
        event_id=event.event_id, event_type=event.event_type(), producer=event.producer,
        call_id=event.call_id, correlation_id=event.correlation_id,
        proposal_id=getattr(event, "proposal_id", None), occurred_at=event.occurred_at,
        recorded_at=datetime.now(timezone.utc), payload=payload))
    key = (event_counts.c.call_id == event.call_id) & (event_counts.c.event_type == event.event_type())
    updated = uow.session.execute(event_counts.update().where(key).values(
        count=event_counts.c.count + 1)).rowcount
    if not updated:
        uow.session.execute(event_counts.insert().values(
            call_id=event.call_id, event_type=event.event_type(), count=1))


def proposal_timeline(uow, proposal_id: str) -> list[dict]:
    with uow:
        rows = uow.session.execute(sa.select(timeline).where(
            timeline.c.proposal_id == proposal_id).order_by(timeline.c.occurred_at,
                                                            timeline.c.recorded_at))
        return [{"event_type": r.event_type, "occurred_at": r.occurred_at,
                 "event_id": r.event_id, "payload": r.payload} for r in rows]
