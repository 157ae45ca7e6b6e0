"""Screening a topic page by page on PostgreSQL: the call's project keys are read from
the frozen versions' own columns (from the content's JSON for versions stored before
those columns), so a copy of a project in another topic is found across pages."""
import pytest
import sqlalchemy as sa

from services.submission import handlers
from services.submission.handlers import timetable as driver
from services.submission.adapters.tables import proposal_versions
from services.submission.schemas import ProposalCreateSchema
from tests.support.submission_data import (DEADLINE, OPS, ManualClock, applicant, call_yaml,
                                           same_project_in_two_topics)
from tests.support.uow import UowFactory

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stored", ["in their columns", "before the columns"])
def test_pages_of_a_topic_find_the_same_project_in_another_topic(databases, tmp_path,
                                                                monkeypatch, stored):
    uows = UowFactory("services.submission:migrations", tmp_path / "unused", "submission",
                      url=databases.url("submission"))
    clock = ManualClock()
    assert handlers.load_call(uows(), OPS, call_yaml(), clock.now())[0] == 201
    ids = {}
    for name, body in same_project_in_two_topics().items():
        body = ProposalCreateSchema().load(body)
        ids[name] = handlers.create(uows(), applicant(), body, clock.now())["id"]
        handlers.submit(uows(), applicant(), ids[name], clock)
    with uows() as uow:
        written = uow.session.execute(sa.select(
            proposal_versions.c.content, proposal_versions.c.coordinator_organisation_id,
            proposal_versions.c.acronym)).all()
        assert len(written) == len(ids)  # as the applicant wrote them, not normalised
        assert all((organisation, acronym) == (content["coordinator"]["organisation_id"],
                                               content["acronym"])
                   for content, organisation, acronym in written)
        if stored == "before the columns":
            uow.session.execute(proposal_versions.update().values(
                coordinator_organisation_id=None, acronym=None))
            uow.commit()
    monkeypatch.setattr(driver, "SCREEN_PAGE", 2)

    handlers.tick_timetable(uows(), DEADLINE, work_seconds=None)

    screened = [e for e in uows.outbox() if e["event_type"] == "proposal_screened"]
    assert sorted(e["proposal_id"] for e in screened) == sorted(ids.values())
    single_topic = {e["proposal_id"] for e in screened
                    if "single_topic" in {f["rule"] for f in e["failed_rules"]}}
    assert single_topic == {ids["copy_1"], ids["copy_2"]}
