"""The proposals listing paged by position on PostgreSQL: the row comparison with the
cursor's creation time, ties at one instant broken by id, and nothing after a proposal
the caller may not see."""
from datetime import timedelta

import pytest

from services.submission import handlers
from services.submission.schemas import ProposalCreateSchema
from tests.support.submission_data import (OPS, ManualClock, applicant, call_yaml,
                                           participant, proposal_body)
from tests.support.uow import UowFactory

pytestmark = pytest.mark.integration


def test_pages_after_the_last_proposal_list_each_once(databases, tmp_path):
    uows = UowFactory("services.submission:migrations", tmp_path / "unused", "submission",
                      url=databases.url("submission"))
    clock = ManualClock()
    assert handlers.load_call(uows(), OPS, call_yaml(), clock.now())[0] == 201
    for minute in (0, 0, 0, 1, 1):
        clock.set(clock.now() + timedelta(minutes=minute))
        handlers.create(uows(), applicant(), ProposalCreateSchema().load(proposal_body()),
                        clock.now())
    graz = applicant("graz@example.eu")
    clock.set(clock.now() + timedelta(minutes=1))  # after all of them
    theirs = handlers.create(uows(), graz, ProposalCreateSchema().load(
        proposal_body(coordinator=participant("Graz", "AT"))), clock.now())["id"]
    everything = [p["id"] for p in handlers.listing(uows(), applicant())]
    pages, after = [], None
    while not pages or pages[-1]:
        pages.append([p["id"] for p in handlers.listing(uows(), applicant(), limit=2,
                                                        after=after)])
        after = pages[-1][-1] if pages[-1] else None
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert sum(pages, []) == everything and len(set(everything)) == 5
    assert handlers.listing(uows(), applicant(), after=theirs) == []
    assert [p["id"] for p in handlers.listing(uows(), OPS, after=everything[-1])] == [theirs]
