"""Drive the grants handlers on a real SQLite unit of work, as the service would: events
through ``UnitOfWork.consume``, commands and ticks with an explicit clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.grants import handlers
from services.grants.handlers.timing import Observation
from shared.auth import Principal
from shared.events import (CallPublished, DeadlineClosed, Event, NotificationDelivered,
                           ProposalWithdrawn, RankingPublished, TimetableStageReached)
from tests.support.grants_events import coordinator
from tests.support.uow import UowFactory

AUTHORITY = "authority@grantflow.test"
OPERATIONS = Principal("ops@grantflow.test", "operations")

_WITH_AUTHORITY = {
    CallPublished: handlers.on_call_published,
    TimetableStageReached: handlers.on_stage_reached,
    RankingPublished: handlers.on_ranking_published,
    ProposalWithdrawn: handlers.on_proposal_withdrawn,
}
_WITHOUT = {
    DeadlineClosed: handlers.on_deadline_closed,
    NotificationDelivered: handlers.on_notification_delivered,
}


class FixedClock:
    def __init__(self, now: datetime):
        self.value = now

    def now(self) -> datetime:
        return self.value


class Grants:
    def __init__(self, tmp_path, now: datetime = datetime(2019, 1, 15, tzinfo=timezone.utc)):
        self.uows = UowFactory("services.grants:migrations", tmp_path / "grants.sqlite",
                               "grants")
        self.clock = FixedClock(now)
        self._seen = 0

    @property
    def now(self) -> datetime:
        return self.clock.value

    def at(self, instant: datetime) -> "Grants":
        self.clock.value = instant
        return self

    def advance(self, **delta) -> "Grants":
        self.clock.value += timedelta(**delta)
        return self

    # ------------------------------------------------------------------ driving
    def deliver(self, event: Event, consumer: str = "grants.test"):
        uow = self.uows(consumer=consumer)
        handler = _WITH_AUTHORITY.get(type(event))
        if handler is not None:
            return uow.consume(event, handler, self.now, AUTHORITY)
        result = uow.consume(event, _WITHOUT[type(event)], self.now)
        if isinstance(result, Observation):  # as the service's entrypoint does
            handlers.observe(result)
        return result

    def deliver_batch(self, events: list[NotificationDelivered],
                      consumer: str = "grants.test") -> None:
        """A batch of deliveries as the service's batched entrypoint hands it over."""
        handlers.record_deliveries(self.uows(consumer=consumer), events, self.now)

    def tick(self):
        return handlers.tick(self.uows(), self.clock, AUTHORITY)

    def coordinator_of(self, proposal_id: str) -> Principal:
        return Principal(coordinator(proposal_id), "applicant")

    def confirm(self, proposal_id: str) -> dict:
        return handlers.confirm_data(self.uows(), self.coordinator_of(proposal_id),
                                     f"GRANT-{proposal_id}", self.now)

    def sign(self, proposal_id: str) -> dict:
        return handlers.sign_by_coordinator(self.uows(), self.coordinator_of(proposal_id),
                                            f"GRANT-{proposal_id}", self.now)

    def decline(self, proposal_id: str, note: str = "partner left the consortium") -> dict:
        return handlers.decline(self.uows(), self.coordinator_of(proposal_id),
                                f"GRANT-{proposal_id}", note, self.now, AUTHORITY)

    def countersign(self, proposal_id: str) -> dict:
        return handlers.sign_by_authority(self.uows(), f"GRANT-{proposal_id}", self.now)

    # ------------------------------------------------------------------ reading
    def grant(self, proposal_id: str) -> dict:
        return handlers.get_grant(self.uows(), OPERATIONS, f"GRANT-{proposal_id}", self.now)

    def grants(self, **filters) -> dict[str, dict]:
        listed = handlers.list_grants(self.uows(), self.now, **filters)["grants"]
        return {g["proposal_id"]: g for g in listed}

    def states(self) -> dict[str, str]:
        return {pid: g["state"] for pid, g in self.grants().items()}

    def timing(self, proposal_id: str) -> dict:
        [report] = handlers.timing_report(self.uows(), self.now, proposal_id=proposal_id)
        return report

    def claimed_event_ids(self, event_type: str, consumer: str = "grants.test") -> set[str]:
        """Ids of the events of a type the consumer has recorded as processed."""
        import sqlalchemy as sa

        from shared.messaging.tables import processed_events
        with self.uows.engine.connect() as conn:
            return set(conn.execute(sa.select(processed_events.c.event_id).where(
                processed_events.c.consumer == consumer,
                processed_events.c.event_type == event_type)).scalars())

    def new_events(self) -> list[dict]:
        """Outbox payloads written since the last call, oldest first."""
        payloads = self.uows.outbox()
        fresh, self._seen = payloads[self._seen:], len(payloads)
        return fresh

    def new_types(self) -> list[tuple[str, str]]:
        return [(e["event_type"], e["proposal_id"]) for e in self.new_events()]
