"""The timetable driver on a real SQLite unit of work: each milestone once, in order;
the deadline closes every topic with a manifest and screens every frozen proposal."""
import time
from datetime import datetime, timedelta

import pytest

from services.submission import handlers
from services.submission.domain.manifest import manifest_hash
from services.submission.handlers import timetable as driver
from services.submission.schemas import ProposalPatchSchema
from tests.support.submission_data import (BRUSSELS, DEADLINE, UTC, amended_yaml,
                                           participant, proposal_body,
                                           same_project_in_two_topics)

from .conftest import OPS, applicant, events
from .handler_steps import create, submit, tick

pytestmark = pytest.mark.usefixtures("published")

CALL_ID = "AMIF-2018-AG-INTE"
TOPICS = [f"{CALL_ID}-{n}" for n in range(1, 6)]
ALL_MILESTONES = ["publication", "submission_deadline", "evaluation_start", "evaluation_end",
                  "information_to_applicants", "grant_preparation_start",
                  "grant_preparation_end", "signature_start", "signature_end"]


def stage_events(uows) -> list[str]:
    return [e["stage"] for e in events(uows, "timetable_stage_reached")]


def test_each_due_milestone_fires_once_in_time_order_over_a_jump(uows):
    assert tick(uows, datetime(2019, 1, 15, tzinfo=UTC)) == ["publication"]
    assert tick(uows, datetime(2019, 1, 20, tzinfo=UTC)) == []
    # the clock jumps over five milestones: each fires, oldest first
    assert tick(uows, datetime(2019, 9, 1, tzinfo=UTC)) == ALL_MILESTONES[1:6]
    assert tick(uows, datetime(2019, 9, 1, tzinfo=UTC)) == []
    assert tick(uows, datetime(2020, 6, 1, tzinfo=UTC)) == ALL_MILESTONES[6:]
    assert stage_events(uows) == ALL_MILESTONES
    event = events(uows, "timetable_stage_reached")[1]
    assert (event["correlation_id"], event["call_version"], event["label"]) == \
        (CALL_ID, 1, "Submission deadline")
    assert event["at"] == "2019-01-31T16:00:00+00:00"


def test_a_milestone_fires_at_its_instant_not_a_microsecond_before(uows):
    assert tick(uows, DEADLINE - timedelta(microseconds=1)) == ["publication"]
    assert tick(uows, DEADLINE) == ["submission_deadline"]


def test_at_the_deadline_topics_close_then_proposals_are_screened_then_the_stage(uows, clock):
    ids = [create(uows, clock, proposal_body(topic_id=topic))["id"] for topic in TOPICS[:2]]
    receipts = [submit(uows, clock, proposal_id) for proposal_id in ids]
    create(uows, clock)  # a draft: never in a manifest
    tick(uows, DEADLINE)
    kinds = [e["event_type"] for e in events(uows)
             if e["event_type"] in ("deadline_closed", "proposal_screened",
                                    "timetable_stage_reached")]
    assert kinds == ["timetable_stage_reached"] + ["deadline_closed"] * 5 + \
        ["proposal_screened"] * 2 + ["timetable_stage_reached"]
    closed = {e["topic_id"]: e for e in events(uows, "deadline_closed")}
    assert set(closed) == set(TOPICS)
    for receipt, topic in zip(receipts, TOPICS):
        entries = closed[topic]["manifest"]
        assert entries == [{"proposal_id": receipt["proposal_id"], "version": 1,
                            "content_hash": receipt["content_hash"],
                            "received_at": receipt["received_at"]}]
        assert closed[topic]["manifest_hash"] == manifest_hash(entries)
    assert closed[TOPICS[4]]["manifest"] == []
    for proposal_id in ids:
        assert handlers.get(uows(), OPS, proposal_id)["state"] == "frozen"


@pytest.mark.parametrize("page", [1000, 2], ids=["one page", "pages of two"])
def test_the_manifest_lists_the_last_version_received_before_the_deadline(
        uows, clock, monkeypatch, page):
    """Whether the topic is read and frozen in one page or several (a topic of 20,000 is
    never in memory at once), the manifest is the same."""
    monkeypatch.setattr(driver, "CLOSE_PAGE", page)
    ids = [create(uows, clock)["id"] for _ in range(4)]
    last = {}
    for round_ in range(3):
        clock.set(DEADLINE - timedelta(minutes=10 - round_))
        for proposal_id in ids[: 4 - round_]:
            last[proposal_id] = submit(uows, clock, proposal_id)
    handlers.withdraw(uows(), applicant(), ids[3], "", clock.now())
    tick(uows, DEADLINE)
    [closed] = [e for e in events(uows, "deadline_closed") if e["topic_id"] == TOPICS[0]]
    expected = sorted(({"proposal_id": r["proposal_id"], "version": r["version"],
                        "content_hash": r["content_hash"], "received_at": r["received_at"]}
                       for pid, r in last.items() if pid != ids[3]),
                      key=lambda e: e["proposal_id"])
    assert closed["manifest"] == expected
    assert {e["proposal_id"]: e["version"] for e in expected} == \
        {ids[0]: 3, ids[1]: 3, ids[2]: 2}
    assert {handlers.get(uows(), OPS, i)["state"] for i in ids[:3]} == {"frozen"}


def test_screening_names_every_failed_rule_with_its_values(uows, clock):
    cases = {
        "danish": proposal_body(co_applicants=[participant("Aarhus", "DK"),
                                               participant("Lyon", "FR")]),
        "uk_2019": proposal_body(co_applicants=[participant("Leeds", "GB"),
                                                participant("Lyon", "FR")]),
        "one_state": proposal_body(co_applicants=[participant("Liege", "BE"),
                                                  participant("Namur", "BE")]),
        "three": proposal_body(),
        "cap_exactly": proposal_body(total_eligible_costs="900000.00",
                                     requested_grant="810000.00"),
        "over_cap": proposal_body(total_eligible_costs="900000.00",
                                  requested_grant="810000.01"),
        "no_budget": proposal_body(part_names=("part_a", "part_b")),
        "two_entities": proposal_body(co_applicants=[participant("Lyon", "FR")]),
    }
    ids = {}
    for name, body in cases.items():
        body["acronym"] = name.upper().replace("_", "")
        ids[name] = create(uows, clock, body)["id"]
        submit(uows, clock, ids[name])
    tick(uows, DEADLINE)
    screened = {e["proposal_id"]: e for e in events(uows, "proposal_screened")}
    assert set(screened) == set(ids.values())

    def failed(name):
        return [(f["rule"], f["kind"]) for f in screened[ids[name]]["failed_rules"]]

    assert failed("danish") == [("participating_country", "eligibility")]
    danish = screened[ids["danish"]]["failed_rules"][0]
    assert danish["values"]["entities"][0]["country"] == "DK"
    assert "Aarhus" in danish["message"]
    for fine in ("uk_2019", "three", "cap_exactly"):
        assert failed(fine) == [] and screened[ids[fine]]["eligible"], fine
    assert failed("one_state") == [("min_member_states", "eligibility")]
    assert failed("over_cap") == [("cofinancing_rate", "eligibility")]
    assert screened[ids["over_cap"]]["failed_rules"][0]["values"]["max_grant"] == "810000.0000"
    assert failed("no_budget") == [("required_parts", "admissibility")]
    assert not screened[ids["no_budget"]]["admissible"]
    assert failed("two_entities") == [("min_entities", "eligibility")]
    snapshot = screened[ids["three"]]["proposal"]
    assert [p["organisation_id"] for p in snapshot["participants"]] == \
        ["ORG-GHENT", "ORG-LYON", "ORG-BOLOGNA"]
    assert snapshot["requested_grant"] == "800000.00"
    view = handlers.get(uows(), OPS, ids["danish"])
    assert view["screening"]["failed_rules"][0]["rule"] == "participating_country"


def crashing_on(call_number: int, step):
    """``step`` (a driver step taking (uow, call_id, topic_id, now, ...)) that dies like a
    killed process on its ``call_number``-th call, before doing anything."""
    calls = []

    def step_or_crash(uow, call_id, topic_id, now, *rest):
        calls.append(topic_id)
        if len(calls) == call_number:
            raise RuntimeError("power cut")
        return step(uow, call_id, topic_id, now, *rest)
    return step_or_crash


def test_a_crash_half_way_through_the_deadline_resumes_without_doing_anything_twice(
        uows, clock, monkeypatch):
    ids = [create(uows, clock, proposal_body(topic_id=t))["id"] for t in TOPICS[:3]]
    for proposal_id in ids:
        submit(uows, clock, proposal_id)
    real_close, real_screen = driver.close_one_topic, driver.screen_one_topic

    monkeypatch.setattr(driver, "close_one_topic", crashing_on(3, real_close))
    with pytest.raises(RuntimeError):
        tick(uows, DEADLINE)
    assert len(events(uows, "deadline_closed")) == 2
    assert "submission_deadline" not in stage_events(uows)

    monkeypatch.setattr(driver, "close_one_topic", real_close)
    monkeypatch.setattr(driver, "screen_one_topic", crashing_on(2, real_screen))
    with pytest.raises(RuntimeError):
        tick(uows, DEADLINE)
    assert len(events(uows, "deadline_closed")) == 5
    assert len(events(uows, "proposal_screened")) == 1

    monkeypatch.setattr(driver, "screen_one_topic", real_screen)
    assert tick(uows, DEADLINE + timedelta(minutes=1)) == ["submission_deadline"]
    assert sorted(e["topic_id"] for e in events(uows, "deadline_closed")) == TOPICS
    assert sorted(e["proposal_id"] for e in events(uows, "proposal_screened")) == sorted(ids)
    assert stage_events(uows) == ["publication", "submission_deadline"]


def test_an_amendment_moving_the_deadline_before_it_fired_is_followed(uows, clock):
    proposal_id = create(uows, clock)["id"]
    status, _ = handlers.load_call(uows(), OPS, amended_yaml(2, deadline="2019-01-31 20:00"),
                                   clock.now())
    assert status == 201
    assert tick(uows, DEADLINE) == ["publication"]  # the old instant is gone
    clock.set(datetime(2019, 1, 31, 19, 30, tzinfo=BRUSSELS))
    receipt = submit(uows, clock, proposal_id)
    assert tick(uows, datetime(2019, 1, 31, 20, 0, tzinfo=BRUSSELS)) == ["submission_deadline"]
    [closed] = [e for e in events(uows, "deadline_closed") if e["topic_id"] == TOPICS[0]]
    assert closed["manifest"][0]["content_hash"] == receipt["content_hash"]
    assert closed["deadline"] == "2019-01-31T19:00:00+00:00"
    stage = events(uows, "timetable_stage_reached")[-1]
    assert (stage["call_version"], stage["at"]) == (2, "2019-01-31T19:00:00+00:00")


def _same_project_in_two_topics(uows, clock) -> dict[str, str]:
    ids = {}
    for name, body in same_project_in_two_topics().items():
        ids[name] = create(uows, clock, body)["id"]
        submit(uows, clock, ids[name])
    return ids


def test_a_topic_is_screened_page_by_page_against_the_whole_call_and_resumes_after_a_crash(
        uows, clock, monkeypatch):
    """Screening holds a page of a topic and the call's project keys, not the call: with
    pages of two, the copy of a project in another topic is still found, a crash in the
    second page keeps the first page's screenings and events, and the next tick screens
    the rest, each proposal once."""
    ids = _same_project_in_two_topics(uows, clock)
    monkeypatch.setattr(driver, "SCREEN_PAGE", 2)
    real_screen, screened_by = driver.screen, []

    def screen_or_crash(call, proposal, others):
        screened_by.append(proposal.proposal_id)
        if len(screened_by) == 3:
            raise RuntimeError("power cut")
        return real_screen(call, proposal, others)

    monkeypatch.setattr(driver, "screen", screen_or_crash)
    with pytest.raises(RuntimeError):
        tick(uows, DEADLINE)
    first = [e["proposal_id"] for e in events(uows, "proposal_screened")]
    assert first == screened_by[:2]  # the first page, committed with its events
    assert "submission_deadline" not in stage_events(uows)

    monkeypatch.setattr(driver, "screen", real_screen)
    assert tick(uows, DEADLINE + timedelta(minutes=1)) == ["submission_deadline"]
    screened = events(uows, "proposal_screened")
    assert sorted(e["proposal_id"] for e in screened) == sorted(ids.values())
    single_topic = {e["proposal_id"] for e in screened
                    if "single_topic" in {f["rule"] for f in e["failed_rules"]}}
    assert single_topic == {ids["copy_1"], ids["copy_2"]}


def test_a_deadline_worked_a_little_per_tick_ends_as_one_worked_at_once(uows, clock, monkeypatch):
    """With no time per tick, each tick closes one topic or screens one page and reports
    the deadline pending; the ticks together close, screen and fire exactly what one
    unbounded tick does, each proposal once, and the stage event comes last."""
    ids = [create(uows, clock, proposal_body(topic_id=t))["id"] for t in TOPICS[:2] * 3]
    for proposal_id in ids:
        submit(uows, clock, proposal_id)
    monkeypatch.setattr(driver, "SCREEN_PAGE", 2)  # topic 1's three proposals: two pages
    assert driver.tick(uows(), DEADLINE - timedelta(days=1)).fired[0]["milestone"] == \
        "publication"

    reports = []
    while not reports or reports[-1].pending:
        reports.append(driver.tick(uows(), DEADLINE, work_seconds=0))
        assert len(reports) <= 20
    progress = [(r.pending[0]["closed"], r.pending[0]["screened"]) for r in reports[:-1]]
    # a topic closed per tick (the tick closing the last also screens topic 1's first
    # page), then a page per tick: topic 1's second, topic 2's two, the empty pages of
    # topics 3 and 4; the tick screening topic 5 fires the deadline
    assert progress == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (5, 1), (5, 1), (5, 2),
                        (5, 3), (5, 4)]
    assert [f["milestone"] for f in reports[-1].fired] == ["submission_deadline"]
    assert all(not r.fired for r in reports[:-1])
    screened = [e["proposal_id"] for e in events(uows, "proposal_screened")]
    assert sorted(screened) == sorted(ids)
    assert len(events(uows, "deadline_closed")) == 5
    assert events(uows)[-1]["event_type"] == "timetable_stage_reached"
    assert stage_events(uows) == ["publication", "submission_deadline"]


def test_reading_the_calls_rivals_is_not_taken_from_a_ticks_pages(uows, clock, monkeypatch):
    """A tick whose read of the call's rivals outlasts its time still screens pages for
    its time after that read. At 100,000 proposals the read took half a tick, so each tick
    screened one page of 1,000 and read all 95,000 rivals again for the next."""
    ids = [create(uows, clock, proposal_body(topic_id=TOPICS[0]))["id"] for _ in range(3)]
    for proposal_id in ids:
        submit(uows, clock, proposal_id)
    monkeypatch.setattr(driver, "SCREEN_PAGE", 1)
    driver.tick(uows(), DEADLINE - timedelta(days=1))  # publication

    def slow_rivals(proposals):
        time.sleep(1.5)  # longer than the tick's time
        return real_rivals(proposals)

    real_rivals = driver.rivals
    monkeypatch.setattr(driver, "rivals", slow_rivals)
    report = driver.tick(uows(), DEADLINE, work_seconds=1.0)
    screened = [e["proposal_id"] for e in events(uows, "proposal_screened")]
    assert sorted(screened) == sorted(ids)  # topic 1's three pages in this one tick
    assert report.pending and report.pending[0]["screened"] == 1  # the rest: next tick


def test_a_tick_goes_on_from_the_topics_first_unscreened_proposal(uows, clock, monkeypatch):
    """A topic screened over several ticks reads each frozen proposal once: a tick starts
    from the first proposal not screened yet, not from the topic's first page. Reading
    again every page screened before made topic 1 of the 100,000 call (38 pages) read
    about 740 pages for its 38."""
    ids = [create(uows, clock, proposal_body(topic_id=TOPICS[0]))["id"] for _ in range(4)]
    for proposal_id in ids:
        submit(uows, clock, proposal_id)
    monkeypatch.setattr(driver, "SCREEN_PAGE", 1)
    driver.tick(uows(), DEADLINE - timedelta(days=1))  # publication
    loaded = []
    real_page = driver.ProposalRepository.unscreened_of_topic

    def counted_page(repo, *args, **kwargs):
        page = real_page(repo, *args, **kwargs)
        loaded.extend(p.id for p in page)
        return page

    monkeypatch.setattr(driver.ProposalRepository, "unscreened_of_topic", counted_page)
    reports = []
    while not reports or reports[-1].pending:
        reports.append(driver.tick(uows(), DEADLINE, work_seconds=0))
        assert len(reports) <= 20
    assert sorted(e["proposal_id"] for e in events(uows, "proposal_screened")) == sorted(ids)
    assert sorted(loaded) == sorted(ids)  # each proposal read once, by the page screening it


def test_closing_freezes_a_proposal_with_unsubmitted_edits_back_to_its_version(uows, clock):
    """Closing writes a topic's frozen proposals in bulk; one edited after its last
    submission is written whole: its working copy and its contacts are those of the
    version that counts again, the edits gone."""
    plain = create(uows, clock)["id"]
    edited = create(uows, clock, proposal_body(acronym="EDITED"))["id"]
    for proposal_id in (plain, edited):
        submit(uows, clock, proposal_id)
    submitted = handlers.get(uows(), OPS, edited)
    handlers.update(uows(), applicant(), edited, ProposalPatchSchema().load(
        {"title": "Changed after submitting",
         "co_applicants": [participant("Graz", "AT"), participant("Turin", "IT")]}),
        clock.now())
    assert handlers.get(uows(), OPS, edited)["has_unsubmitted_changes"]
    tick(uows, DEADLINE)
    for proposal_id in (plain, edited):
        view = handlers.get(uows(), OPS, proposal_id)
        assert (view["state"], view["frozen_version"]) == ("frozen", 1)
        assert not view["has_unsubmitted_changes"]
    frozen = handlers.get(uows(), OPS, edited)
    assert (frozen["title"], frozen["contact_emails"]) == \
        (submitted["title"], submitted["contact_emails"])
    assert handlers.listing(uows(), applicant("graz@example.eu")) == []
