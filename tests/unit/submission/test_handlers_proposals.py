"""Proposal commands and queries through the handlers, on a real SQLite unit of work."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import CacheStats

from services.submission import handlers
from services.submission.domain.manifest import check_entry
from services.submission.schemas import (ProposalCreateSchema, ProposalListQuery,
                                         ProposalPatchSchema, ProposalSchema,
                                         ProposalSummarySchema, VersionSchema, load_query)
from shared.web import BadRequest, Conflict, NotFound, Unprocessable
from tests.support.submission_data import (BRUSSELS, DEADLINE, UTC, participant,
                                           part_upload, proposal_body)

from .conftest import OPS, applicant, events
from .handler_steps import conforms, create, submit, tick

pytestmark = pytest.mark.usefixtures("published")


def count(uows, table: str) -> int:
    with uows.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def patch(uows, clock, proposal_id, changes, who=None):
    return handlers.update(uows(), who or applicant(), proposal_id,
                           ProposalPatchSchema().load(changes), clock.now())


# ----------------------------------------------------------------------- drafts
def test_a_draft_keeps_the_form_and_parts_with_their_hashes(uows, clock):
    view = create(uows, clock)
    assert view["state"] == "draft" and view["versions"] == []
    assert view["contact_emails"] == ["ghent@example.eu", "lyon@example.eu",
                                      "bologna@example.eu"]
    assert [p["name"] for p in view["parts"]] == ["part_a", "part_b", "budget"]
    assert all(len(p["sha256"]) == 64 and p["size"] > 0 for p in view["parts"])
    assert view["deadline"] == "2019-01-31T16:00:00.000000+00:00"
    data, filename = handlers.part_content(uows(), applicant(), view["id"], "part_b")
    assert data == b"%PDF-1.4 part_b" and filename == "part_b.pdf"
    assert events(uows, "proposal_submitted") == []  # a draft tells nobody


def test_a_second_draft_compiles_no_statement_again(uows, clock):
    """SQLAlchemy compiles a statement once per shape and reuses it; one with its rows
    written in (``insert(parts).values(rows)``) has no cache key, and was compiled again
    for every draft: about a quarter of the service's CPU a draft (bench/submission_rush.py,
    3.6-3.9 ms before, 2.8-2.9 after)."""
    create(uows, clock)
    compiled_again = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if context.cache_hit is not CacheStats.CACHE_HIT:
            compiled_again.append((context.cache_hit.name, statement))

    sa.event.listen(uows.engine, "after_cursor_execute", seen)
    try:
        view = create(uows, clock, proposal_body(parts=[
            part_upload(name, f"%PDF-1.4 {name} of the second draft".encode())
            for name in ("part_a", "part_b", "budget")]))
    finally:
        sa.event.remove(uows.engine, "after_cursor_execute", seen)
    assert view["state"] == "draft" and count(uows, "parts") == 6
    assert compiled_again == []


@pytest.mark.parametrize("changes, field", [
    ({"call_id": "NOPE"}, "call_id"),
    ({"topic_id": "AMIF-2018-AG-INTE-9"}, "topic_id"),
    ({"integration_areas": ["housing", "astrology"]}, "integration_areas[1]"),
    ({"parts": [part_upload("annex_z")]}, "parts[0].name"),
    ({"parts": [part_upload("part_a"), part_upload("part_a")]}, "parts[1].name"),
    ({"parts": [{"name": "part_a", "filename": "a", "content_base64": "***"}]},
     "parts[0].content_base64"),
])
def test_a_draft_that_does_not_fit_the_call_is_refused_naming_the_field(uows, clock,
                                                                        changes, field):
    with pytest.raises(Unprocessable) as refused:
        create(uows, clock, proposal_body(**changes))
    assert [e["field"] for e in refused.value.errors] == [field]
    assert count(uows, "proposals") == 0 and count(uows, "parts") == 0


@pytest.mark.parametrize("changes, field, rule", [
    ({"requested_grant": 800000.5}, "requested_grant", "a JSON number with a fraction"),
    ({"requested_grant": "800000.001"}, "requested_grant", "at most two decimals"),
    ({"requested_grant": "1e30"}, "requested_grant", "must be at most"),
    ({"total_eligible_costs": "-1"}, "total_eligible_costs", "must not be negative"),
    ({"duration_months": 24.0}, "duration_months", "Not a valid integer"),
    ({"title": "a\x00b"}, "title", "NUL"),
    ({"coordinator": participant("Ghent", "be")}, "coordinator.country", "ISO 3166-1"),
    ({"coordinator": participant("Ghent", email="x" * 250 + "@example.eu")},
     "coordinator.contact_email", "at most 254"),
    ({"colour": "red"}, "colour", "Unknown field"),
])
def test_a_malformed_form_is_refused_by_the_schema_naming_field_and_rule(changes, field, rule):
    from marshmallow import ValidationError

    from shared.web import validation_errors
    with pytest.raises(ValidationError) as refused:
        ProposalCreateSchema().load(proposal_body(**changes))
    [error] = validation_errors(refused.value)
    assert error["field"] == field and rule in error["rule"]


def test_the_creator_must_be_a_contact_of_the_proposal(uows, clock):
    with pytest.raises(Unprocessable) as refused:
        create(uows, clock, who=applicant("stranger@example.org"))
    assert refused.value.errors[0]["field"] == "contact_email"
    assert count(uows, "proposals") == 0
    assert create(uows, clock, who=OPS)["created_by"] == "ops@grantflow.test"


def test_a_part_over_the_limit_is_refused_with_413_naming_the_limit(uows, clock):
    body = ProposalPatchSchema().load({"parts": [part_upload("part_b", b"x" * 2049)]})
    view = create(uows, clock)
    with pytest.raises(Exception) as refused:
        handlers.update(uows(), applicant(), view["id"], body, clock.now(), part_limit=2048)
    assert refused.value.status == 413
    assert refused.value.errors == [{"field": "parts[0].content_base64",
                                     "rule": "a part may be at most 2048 bytes (0.00195312 MB)"}]


# ----------------------------------------------------------------------- access
def test_only_contacts_and_operations_see_or_change_a_proposal(uows, clock):
    proposal_id = create(uows, clock)["id"]
    stranger = applicant("stranger@example.org")
    for action in (lambda: handlers.get(uows(), stranger, proposal_id),
                   lambda: submit(uows, clock, proposal_id, who=stranger),
                   lambda: patch(uows, clock, proposal_id, {"title": "Mine"}, who=stranger),
                   lambda: handlers.withdraw(uows(), stranger, proposal_id, "", clock.now())):
        with pytest.raises(NotFound):
            action()
    assert handlers.get(uows(), applicant("LYON@example.eu"), proposal_id)["id"] == proposal_id
    assert handlers.get(uows(), OPS, proposal_id)["id"] == proposal_id
    assert handlers.listing(uows(), stranger) == []
    mine = handlers.listing(uows(), applicant("bologna@example.eu"))
    assert [p["id"] for p in mine] == [proposal_id]
    conforms(ProposalSummarySchema, mine[0])
    assert len(handlers.listing(uows(), OPS)) == 1


def test_a_listing_paged_after_the_last_proposal_is_the_listing(uows, clock):
    """Pages asked after the last proposal of the page before give every proposal once,
    in the listing's order, proposals created at one instant included."""
    for minute in (0, 0, 0, 1, 2):  # three at one instant: the id breaks the tie
        clock.set(clock.now() + timedelta(minutes=minute))
        create(uows, clock)
    everything = [p["id"] for p in handlers.listing(uows(), OPS)]
    pages, after = [], None
    while not pages or pages[-1]:
        pages.append([p["id"] for p in handlers.listing(uows(), OPS, limit=2, after=after)])
        after = pages[-1][-1] if pages[-1] else None
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert sum(pages, []) == everything and len(set(everything)) == 5


def test_a_page_after_a_proposal_the_caller_cannot_see_is_empty(uows, clock):
    """``after`` another applicant's proposal tells nothing of it: not whether it exists,
    nor when it was created."""
    mine = create(uows, clock)["id"]
    clock.set(clock.now() + timedelta(minutes=1))
    theirs = create(uows, clock, proposal_body(coordinator=participant("Graz", "AT")),
                    who=applicant("graz@example.eu"))["id"]
    clock.set(clock.now() + timedelta(minutes=1))
    later = create(uows, clock)["id"]
    assert [p["id"] for p in handlers.listing(uows(), applicant(), after=mine)] == [later]
    assert handlers.listing(uows(), applicant(), after=theirs) == []
    assert handlers.listing(uows(), applicant(), after="P-000000000000") == []
    assert [p["id"] for p in handlers.listing(uows(), OPS, after=theirs)] == [later]


@pytest.mark.parametrize("args, field, rule", [
    ({"state": "sent"}, "state", "must be one of draft, submitted, withdrawn, frozen"),
    ({"limit": "0"}, "limit", "must be a whole number from 1 to 1000"),
    ({"after": "P-1", "offset": "5"}, "after", "cannot be combined with an offset"),
    ({"after": "P-1;DROP"}, "after", "must be an identifier (letters, digits, '_', '-', '.')"),
    ({"sort": "id"}, "sort", "Unknown field."),
])
def test_a_listing_refuses_a_query_argument_naming_it_and_its_rule(args, field, rule):
    with pytest.raises(BadRequest) as refused:
        load_query(ProposalListQuery, _Args(args))
    assert {"field": field, "rule": rule} in refused.value.errors


class _Args(dict):
    def to_dict(self):
        return dict(self)


def test_an_applicant_cannot_edit_themselves_out_of_the_contacts(uows, clock):
    proposal_id = create(uows, clock)["id"]
    with pytest.raises(Unprocessable):
        patch(uows, clock, proposal_id, {"coordinator": participant("Antwerp", "BE")})
    view = handlers.get(uows(), applicant(), proposal_id)
    assert view["coordinator"]["legal_name"] == "Ghent"
    # a change of co-applicants moves who may see it
    patch(uows, clock, proposal_id, {"co_applicants": [participant("Graz", "AT"),
                                                       participant("Turin", "IT")]})
    assert handlers.listing(uows(), applicant("lyon@example.eu")) == []
    assert len(handlers.listing(uows(), applicant("graz@example.eu"))) == 1


# ----------------------------------------------------------------------- submitting
def test_submit_and_resubmit_give_receipts_and_keep_every_version(uows, clock):
    proposal_id = create(uows, clock)["id"]
    first = submit(uows, clock, proposal_id)
    assert (first["proposal_id"], first["version"]) == (proposal_id, 1)
    assert first["received_at"] == "2019-01-15T10:00:00.000000+00:00"
    clock.set(clock.instant + timedelta(hours=1))
    patch(uows, clock, proposal_id, {"requested_grant": "850000.00"})
    second = submit(uows, clock, proposal_id)
    assert second["version"] == 2 and second["content_hash"] != first["content_hash"]

    view = handlers.get(uows(), applicant(), proposal_id)
    assert view["state"] == "submitted" and not view["has_unsubmitted_changes"]
    assert [(v["version"], v["content_hash"]) for v in view["versions"]] == \
        [(1, first["content_hash"]), (2, second["content_hash"])]
    old = conforms(VersionSchema, handlers.version(uows(), applicant(), proposal_id, 1))
    assert old["requested_grant"] == "800000.00"
    [one, two] = events(uows, "proposal_submitted")
    assert (one["version"], two["version"]) == (1, 2)
    assert two["contact_emails"] == view["contact_emails"]
    assert two["received_at"] == "2019-01-15T11:00:00+00:00"


def test_a_part_replaced_after_a_submission_stays_readable_in_that_version(uows, clock):
    proposal_id = create(uows, clock)["id"]
    submit(uows, clock, proposal_id)
    handlers.put_part(uows(), applicant(), proposal_id, "part_b", b"%PDF-1.4 new", "b2.pdf",
                      clock.now())
    assert handlers.get(uows(), applicant(), proposal_id)["has_unsubmitted_changes"]
    assert handlers.part_content(uows(), applicant(), proposal_id, "part_b")[0] == b"%PDF-1.4 new"
    assert handlers.part_content(uows(), applicant(), proposal_id, "part_b", 1)[0] == \
        b"%PDF-1.4 part_b"
    view = handlers.remove_part(uows(), applicant(), proposal_id, "budget", clock.now())
    assert [p["name"] for p in view["parts"]] == ["part_a", "part_b"]
    with pytest.raises(NotFound):
        handlers.remove_part(uows(), applicant(), proposal_id, "budget", clock.now())


@pytest.mark.parametrize("received, accepted", [
    (datetime(2019, 1, 31, 16, 59, 59, tzinfo=BRUSSELS), True),
    (datetime(2019, 1, 31, 16, 59, 59, 999999, tzinfo=BRUSSELS), True),
    (datetime(2019, 1, 31, 17, 0, 0, tzinfo=BRUSSELS), False),
    (datetime(2019, 1, 31, 16, 30, tzinfo=UTC), False),  # 17:30 in Brussels
    (datetime(2019, 1, 31, 15, 59, 59, tzinfo=UTC), True),
])
def test_the_deadline_is_an_instant_and_a_late_submission_changes_nothing(uows, clock,
                                                                          received, accepted):
    proposal_id = create(uows, clock)["id"]
    before = submit(uows, clock, proposal_id)
    clock.set(received)
    if accepted:
        assert submit(uows, clock, proposal_id)["version"] == 2
        return
    with pytest.raises(Conflict) as refused:
        submit(uows, clock, proposal_id)
    assert refused.value.code == "deadline_passed"
    assert "2019-01-31T16:00:00.000000+00:00" in refused.value.message
    view = handlers.get(uows(), applicant(), proposal_id)
    assert [v["version"] for v in view["versions"]] == [1]
    assert view["versions"][0]["content_hash"] == before["content_hash"]
    assert len(events(uows, "proposal_submitted")) == 1


def test_edits_and_new_drafts_are_refused_from_the_deadline_on(uows, clock):
    proposal_id = create(uows, clock)["id"]
    clock.set(DEADLINE)
    with pytest.raises(Conflict):
        patch(uows, clock, proposal_id, {"title": "Late"})
    with pytest.raises(Conflict):
        create(uows, clock)
    assert handlers.get(uows(), applicant(), proposal_id)["title"] == "Network for integration"


def test_a_closed_topic_refuses_submissions_even_if_the_deadline_moved_later(uows, clock):
    proposal_id = create(uows, clock)["id"]
    tick(uows, DEADLINE)
    with pytest.raises(Conflict) as refused:
        submit(uows, clock, proposal_id)  # the clock says "before", the topic is closed
    assert refused.value.code == "deadline_passed"


# ----------------------------------------------------------------------- withdrawing
def test_withdrawing_a_draft_tells_nobody_and_a_submitted_one_tells_everyone(uows, clock):
    draft = create(uows, clock)["id"]
    view = handlers.withdraw(uows(), applicant(), draft, "changed our minds", clock.now())
    assert conforms(ProposalSchema, view)["state"] == "withdrawn"
    assert events(uows, "proposal_withdrawn") == []
    with pytest.raises(Conflict):
        submit(uows, clock, draft)

    sent = create(uows, clock)["id"]
    submit(uows, clock, sent)
    handlers.withdraw(uows(), applicant(), sent, "partner left", clock.now())
    [event] = events(uows, "proposal_withdrawn")
    assert (event["proposal_id"], event["reason"]) == (sent, "partner left")


def test_withdrawal_after_the_deadline_until_the_ranking_is_published(uows, clock):
    first, second = create(uows, clock)["id"], create(uows, clock)["id"]
    submit(uows, clock, first)
    submit(uows, clock, second)
    tick(uows, DEADLINE)
    after = DEADLINE + timedelta(days=3)
    handlers.withdraw(uows(), applicant(), first, "", after)
    assert [e["proposal_id"] for e in events(uows, "proposal_withdrawn")] == [first]

    from shared.events import RankingPublished
    ranking = RankingPublished(call_id="AMIF-2018-AG-INTE", correlation_id="AMIF-2018-AG-INTE-1",
                               occurred_at=after, topic_id="AMIF-2018-AG-INTE-1", budget=1,
                               main=[], reserve=[], rejected=[], funded_total=0)
    uows("submission.on_ranking_published").consume(ranking, handlers.on_ranking_published)
    assert uows("submission.on_ranking_published").consume(
        ranking, handlers.on_ranking_published) is None  # a redelivery is a no-op
    with pytest.raises(Conflict) as refused:
        handlers.withdraw(uows(), applicant(), second, "", after)
    assert refused.value.code == "withdrawal_closed"
    assert "declines the grant" in refused.value.message
    assert handlers.get(uows(), applicant(), second)["state"] == "frozen"


def test_the_receipt_checks_against_the_published_manifest(uows, clock):
    proposal_id = create(uows, clock)["id"]
    first = submit(uows, clock, proposal_id)
    last = submit(uows, clock, proposal_id)
    tick(uows, DEADLINE)
    published = handlers.manifest(uows(), "AMIF-2018-AG-INTE", "AMIF-2018-AG-INTE-1")
    entries, digest = published["manifest"], published["manifest_hash"]
    assert check_entry(entries, digest, proposal_id=proposal_id,
                       content_hash=last["content_hash"], version=last["version"]).ok
    assert not check_entry(entries, digest, proposal_id=proposal_id,
                           content_hash=first["content_hash"], version=first["version"]).ok
