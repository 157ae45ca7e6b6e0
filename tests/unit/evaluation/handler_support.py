"""A real SQLite unit of work with evaluation's migrations, a settable clock and the real
solver in this process: the handlers exactly as the service runs them, without nameko."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from services.evaluation.adapters.solver_provider import Solver
from services.evaluation.handlers import assigning, events, experts
from shared.auth import Principal
from shared.web import ApiError
from tests.support.evaluation_events import (
    T0, call_published, deadline_closed, expert_record, screened, stage)
from tests.support.uow import UowFactory

HANDLERS = {
    "call_published": events.on_call_published, "deadline_closed": events.on_deadline_closed,
    "proposal_screened": events.on_proposal_screened,
    "proposal_withdrawn": events.on_proposal_withdrawn,
    "timetable_stage_reached": events.on_stage_reached,
}
OPS = Principal("ops@grantflow.test", "operations")


class Clock:
    def __init__(self, now: datetime = T0):
        self.at = now

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)


class Harness:
    def __init__(self, tmp_path, url: str | None = None):
        """On a SQLite file in ``tmp_path``, or on the database at ``url``."""
        self.factory = UowFactory("services.evaluation:migrations",
                                  None if url else tmp_path / "ev.sqlite", "evaluation", url=url)
        self.clock = Clock()
        self.solver = Solver(isolated=False)

    # ------------------------------------------------------------ plumbing
    def uow(self):
        return self.factory()

    def deliver(self, *events_):
        """Consume events as the service's handlers do (by type); returns the results."""
        results = []
        for event in events_:
            uow = self.factory(consumer=f"evaluation.on_{event.event_type()}")
            results.append(uow.consume(event, HANDLERS[event.event_type()], self.clock.now()))
        return results

    def sweep(self):
        return assigning.sweep(self.uow(), self.solver, self.clock)

    def outbox(self, event_type: str | None = None) -> list[dict]:
        return [e for e in self.factory.outbox() if event_type in (None, e["event_type"])]

    def rows(self, sql: str, **params) -> list:
        with self.factory.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()

    def active_pairs(self) -> set[tuple[str, str]]:
        return {(r.expert_id, r.proposal_id) for r in self.rows(
            "SELECT expert_id, proposal_id FROM assignments WHERE status = 'active'")}

    def experts_of(self, pid: str) -> set[str]:
        return {e for e, p in self.active_pairs() if p == pid}

    # ------------------------------------------------------------ scenario steps
    def import_experts(self, records: list[dict]):
        parsed = experts.parse_import("application/json", json.dumps({"experts": records}),
                                      {"experts": records})
        return experts.import_experts(self.uow(), self.solver, self.clock, parsed, OPS.email)

    def open_topic(self, pids, ineligible=(), experts_=6, **call_settings):
        """Call, manifest, screenings, pool, evaluation start and the sweep: assigned."""
        self.deliver(call_published(**call_settings), deadline_closed(pids),
                     *[screened(p, eligible=p not in ineligible) for p in pids])
        self.import_experts([expert_record(i) for i in range(1, experts_ + 1)])
        self.deliver(stage("evaluation_start"))
        return self.sweep()


def evaluator(expert_id: str) -> str:
    """The email of an expert made by ``expert_record``."""
    return f"expert{expert_id.split('-')[1]}@pool.example.org"


def scores(values, comment="A careful and well argued assessment.") -> dict:
    ids = ("relevance", "quality", "cost_effectiveness", "european_added_value", "results_impact")
    return {"criteria": {c: {"score": v, "comment": comment} for c, v in zip(ids, values)},
            "final": True}


def refusal(call, *args) -> tuple[int, list | dict | None]:
    """The HTTP status and errors of a handler call that must be refused."""
    with pytest.raises(ApiError) as raised:
        call(*args)
    return raised.value.status, raised.value.errors
