"""What evaluation notes at a deadline, on both databases the service runs on: a topic's
manifest in one statement, a batch of screenings in one statement, and the rules the
proposal-at-a-time form kept (a screening before the manifest, a frozen version kept, a
proposal screened once)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa

from services.evaluation.adapters.tables import proposals as table
from services.evaluation.handlers import events
from tests.support.evaluation_events import call_published, deadline_closed, screened
from tests.support.plans import sent_by, starting

pytestmark = pytest.mark.integration

PROPOSALS = [f"P-{i:02d}" for i in range(1, 13)]


def screen_batch(h, batch) -> None:
    """As the service consumes screenings: a batch in one transaction."""
    uow = h.factory(consumer="evaluation.on_proposal_screened")
    uow.consume_batch(batch, lambda uow, fresh: events.on_proposals_screened(
        uow, fresh, h.clock.now()), bulk=True)


def proposals(h) -> dict:
    """The rows as the service reads them (its column types: booleans, UTC instants)."""
    with h.factory.engine.connect() as conn:
        return {r.proposal_id: r for r in conn.execute(sa.select(table))}


def test_a_topics_manifest_is_noted_in_one_statement(h):
    h.deliver(call_published())
    closed = deadline_closed(PROPOSALS)
    seen = sent_by(h.factory.engine, lambda: h.deliver(closed))
    rows = proposals(h)
    assert sorted(rows) == PROPOSALS
    for entry in closed.manifest:
        row = rows[entry["proposal_id"]]
        assert (row.in_manifest, row.version, row.screened) == (True, 1, False)
        assert row.received_at == datetime.fromisoformat(entry["received_at"])
    assert starting(seen, "INSERT INTO proposals ") == 1
    assert not [s for s in seen if s.startswith("SELECT") and "FROM proposals" in s
                and "FOR UPDATE" in s]  # no locked look a proposal


def test_a_batch_of_screenings_is_noted_in_one_statement(h):
    h.deliver(call_published(), deadline_closed(PROPOSALS))
    seen = sent_by(h.factory.engine, lambda: screen_batch(
        h, [screened(p, eligible=p != "P-03") for p in PROPOSALS]))
    rows = proposals(h)
    assert all(rows[p].screened for p in PROPOSALS)
    assert {p for p in PROPOSALS if not rows[p].eligible} == {"P-03"}
    assert rows["P-05"].snapshot["acronym"] == "ACR-P-05"
    assert starting(seen, "INSERT INTO proposals ") == 1
    assert starting(seen, "UPDATE proposals ") == 0


def test_the_manifests_version_stays_and_a_proposal_is_screened_once(h):
    h.deliver(call_published())
    early = replace(screened("P-01"), version=2, event_id=str(uuid.uuid4()))
    screen_batch(h, [early])  # before the manifest: the row is made, screened
    assert (proposals(h)["P-01"].screened, proposals(h)["P-01"].version) == (True, 2)

    h.deliver(deadline_closed(["P-01", "P-02"]))  # the manifest freezes version 1
    rows = proposals(h)
    assert (rows["P-01"].in_manifest, rows["P-01"].version, rows["P-01"].screened) == (
        True, 1, True)
    later = replace(screened("P-02", eligible=False), version=3, event_id=str(uuid.uuid4()))
    again = replace(screened("P-01", eligible=False), event_id=str(uuid.uuid4()))
    twice = replace(screened("P-02"), event_id=str(uuid.uuid4()))
    screen_batch(h, [again, later, twice])
    rows = proposals(h)
    assert rows["P-01"].eligible is True  # screened already: the later outcome is ignored
    # the manifest's version stays; of two screenings of P-02 in one batch the first counts
    assert (rows["P-02"].version, rows["P-02"].screened, rows["P-02"].eligible) == (
        1, True, False)
