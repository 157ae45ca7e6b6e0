"""A batch of events through the bulk path (``on_events``, what the service's consumers
run) against a real SQLite unit of work: the same rows as the events handled one by one,
nothing queued twice on a redelivery, an unknown call still fails the batch, and a few
statements for the batch instead of a few per event."""
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.notifications.adapters import tables
from services.notifications.handlers import (CallNotKnownYet, consume, lock_calls, on_event,
                                             on_events)
from shared.calls.loader import call_to_wire, load_default_call
from shared.events import CallPublished, EvaluationReportSubmitted
from shared.events.base import new_event_id

from . import factories as f
from .service_support import CONSUMER, call_published, handle, settings

NOW = f.RELEASE_AT  # one service clock reading for the whole batch, as the service has


def apply_batch(factory, events, consumer: str = CONSUMER) -> int:
    """What the service's entrypoints do with a batch (``consume``), returning how many
    events were applied rather than how many messages they queued."""
    return factory(consumer=consumer).consume_batch(
        events, lambda uow, fresh: on_events(uow, fresh, NOW, settings()),
        prepare=lock_calls, bulk=True)


def one_by_one(factory, events) -> list:
    return [handle(factory, event, now=NOW) for event in events]


# --------------------------------------------------------------------------- events
def about(event, proposal_id, **changes):
    return replace(event, event_id=new_event_id(), proposal_id=proposal_id,
                   correlation_id=proposal_id, **changes)


def assigned(proposal_id, expert_id, at):
    return about(f.assigned(), proposal_id, expert_id=expert_id, occurred_at=at,
                 expert_email=f"{expert_id.lower()}@experts.example.eu")


def released(proposal_id, expert_id, at):
    return about(f.released(), proposal_id, expert_id=expert_id, occurred_at=at)


def final_report(proposal_id, expert_id, at):
    return EvaluationReportSubmitted(**f.envelope(proposal_id, at=at), proposal_id=proposal_id,
                                     topic_id=f.TOPIC, expert_id=expert_id,
                                     total=f.SCORES["relevance"], final=True)


T = datetime(2019, 2, 10, 9, tzinfo=timezone.utc)


def earlier_batch():
    """Seen before the batch: the call, an assignment, an end before its assignment."""
    return [call_published(), assigned("P-0042", "EX-1", T),
            released("P-0001", "EX-2", T + timedelta(hours=2))]


def mixed_batch():
    """A realistic batch: receipts, screenings, assignments and their ends in every order,
    letter facts, the milestone and facts completed after it, grant mail, sign-in links."""
    return [
        f.submitted(), about(f.submitted(), "P-0001"),
        released("P-0042", "EX-1", T + timedelta(days=1)),  # ends an earlier assignment
        assigned("P-0001", "EX-2", T),  # its end came in the earlier batch
        assigned("P-0042", "EX-3", T), final_report("P-0042", "EX-3", T + timedelta(days=2)),
        final_report("P-0001", "EX-4", T + timedelta(days=2)),  # the end before ...
        assigned("P-0001", "EX-4", T),  # ... its assignment, in the same batch
        released("P-0042", "EX-5", T - timedelta(days=1)),  # released, then assigned again
        assigned("P-0042", "EX-5", T),
        assigned("P-0099", "EX-6", T),
        about(f.screened(eligible=False, failed=f.FAILED_RULES), "P-0001"),
        f.screened(), f.completed(),
        replace(f.ranking(), main=[f.ranking_entry("P-0042", 1)],
                reserve=[f.ranking_entry("P-0007", 1)]),
        about(f.withdrawn(), "P-0099"), about(f.screened(), "P-0099"),  # no screening mail
        f.stage(),  # the milestone: letters of P-0001 and P-0042
        about(f.screened(), "P-0007"),  # completed after it: its letter now
        f.completed(passed=True),  # P-0042's letter derived again: the first one stays
        f.stage("information_to_applicants_start"),  # every letter derived again
        f.preparation_started(), f.signature_requested("authority"), f.signed(),
        f.breached(), f.answer_published(), f.applicant_sign_in(), f.evaluator_sign_in(),
    ]


# --------------------------------------------------------------------------- what is stored
TOKEN = re.compile(r"token=[^\s\"']+")


def _plain(value):
    """Sign-in links carry a fresh token each time they are minted: compare without it."""
    return TOKEN.sub("token=...", value) if isinstance(value, str) else value


def stored(factory) -> dict:
    """Every row the event handling writes, in a comparable form (the delivery log without
    its wall-clock column)."""
    skip = {"next_attempt_at"}
    found = {}
    with factory.engine.connect() as conn:
        for table in (tables.seen_events, tables.calls, tables.letter_facts,
                      tables.letter_releases, tables.assignments, tables.assignment_ends,
                      tables.deliveries):
            columns = [c for c in table.c if c.name not in skip]
            rows = conn.execute(sa.select(*columns).order_by(*table.primary_key.columns))
            found[table.name] = [
                {name: ({k: _plain(v) for k, v in value.items()} if isinstance(value, dict)
                        else _plain(value)) for name, value in row._mapping.items()}
                for row in rows]
    return found


def closed(factory) -> dict:
    with factory.engine.connect() as conn:
        return dict(conn.execute(sa.select(tables.assignments.c.expert_id,
                                           tables.assignments.c.closed)).all())


# --------------------------------------------------------------------------- tests
def test_a_mixed_batch_stores_what_its_events_one_by_one_store(uows, other_uows):
    earlier, batch = earlier_batch(), mixed_batch()
    queued_before = [sum(one_by_one(factory, earlier)) for factory in (uows, other_uows)][0]
    queued_one_by_one = sum(one_by_one(uows, batch))
    assert apply_batch(other_uows, batch) == len(batch)

    bulk, single = stored(other_uows), stored(uows)
    assert bulk == single
    # and what both stored is what the events mean
    assert len(bulk["seen_events"]) == len(earlier) + len(batch)
    assert closed(other_uows) == {"EX-1": True, "EX-2": True, "EX-3": True, "EX-4": True,
                             "EX-5": False, "EX-6": False}
    letters = {(r["proposal_id"], r["context"]["outcome"], r["source_event_type"])
               for r in bulk["deliveries"] if r["template"] == "result_letter"}
    assert letters == {("P-0001", "ineligible", "timetable_stage_reached"),
                       ("P-0042", "selected", "timetable_stage_reached"),
                       ("P-0007", "reserve", "proposal_screened")}
    templates = {r["template"] for r in bulk["deliveries"]}
    assert {"submission_receipt", "evaluator_assigned", "evaluator_released",
            "screening_result", "grant_invitation", "time_target_breach",
            "answer_published", "sign_in_link"} <= templates
    assert not [r for r in bulk["deliveries"]
                if r["template"] == "screening_result" and r["proposal_id"] == "P-0099"]
    assert queued_one_by_one == len(bulk["deliveries"]) - queued_before


def test_a_redelivered_batch_queues_nothing_twice(uows):
    one_by_one(uows, earlier_batch())
    batch = mixed_batch()
    apply_batch(uows, batch)
    before = stored(uows)

    assert apply_batch(uows, batch) == 0  # every event already processed
    # the same events re-derived (another consumer, a replay): every key is in the log
    late = about(f.submitted(), "P-0500")
    assert apply_batch(uows, [*batch[:5], late], consumer="notifications.other") == 6
    after = stored(uows)
    new = [r for r in after["deliveries"] if r not in before["deliveries"]]
    assert {(r["proposal_id"], r["template"]) for r in new} == {
        ("P-0500", "submission_receipt")}
    assert len(new) == 2  # its two contacts, nothing of the five already handled


def test_a_batch_says_how_many_messages_it_queued_so_the_senders_are_woken_for_mail_only(
        uows):
    """``consume`` (the service's entrypoints) returns the messages a batch queued: the
    service wakes its mail senders only when there is mail to send."""
    one_by_one(uows, earlier_batch())
    submitted = about(f.submitted(), "P-0500")

    assert consume(uows(consumer=CONSUMER), [submitted], NOW, settings()) == 2  # 2 contacts
    assert consume(uows(consumer=CONSUMER), [final_report("P-0500", "EX-9", T)], NOW,
                   settings()) == 0  # a report tells nobody anything
    assert consume(uows(consumer=CONSUMER), [submitted], NOW, settings()) == 0  # redelivered
    receipts = [r for r in stored(uows)["deliveries"]
                if (r["proposal_id"], r["template"]) == ("P-0500", "submission_receipt")]
    assert len(receipts) == 2


def test_a_batch_with_an_unknown_call_fails_whole_and_its_other_events_apply_alone(uows):
    handle(uows, call_published(), now=NOW)
    unknown = replace(about(f.submitted(), "P-0777"), call_id="OTHER-CALL")
    batch = [f.submitted(), unknown, about(f.submitted(), "P-0001")]
    with pytest.raises(CallNotKnownYet, match="OTHER-CALL"):
        apply_batch(uows, batch)
    assert stored(uows)["deliveries"] == []  # nothing of the batch was kept

    outcomes = []
    for event in batch:  # what the consumer does with a failed batch: one by one
        try:
            outcomes.append(apply_batch(uows, [event]))
        except CallNotKnownYet:
            outcomes.append("retry")
    assert outcomes == [1, "retry", 1]
    assert {r["proposal_id"] for r in stored(uows)["deliveries"]} == {"P-0042", "P-0001"}


def newer_call() -> CallPublished:
    call = replace(load_default_call(), version=2)
    return CallPublished(**f.envelope(f.CALL_ID), version=2, title=call.title,
                         call=call_to_wire(call), changes=["Deadline moved."],
                         notify_emails=["lead@ngo.example.org"])


def test_a_call_published_in_the_batch_serves_the_events_after_it(uows):
    before, after = f.submitted(), about(f.submitted(), "P-0001")
    assert apply_batch(uows, [call_published(), before, newer_call(), after]) == 4
    assert [(c["call_id"], c["version"]) for c in stored(uows)["calls"]] == [(f.CALL_ID, 2)]
    versions = {(r["template"], r["proposal_id"], r["context"]["call_version"])
                for r in stored(uows)["deliveries"]}
    assert versions == {("submission_receipt", "P-0042", 1), ("call_amended", None, 2),
                        ("submission_receipt", "P-0001", 2)}


# --------------------------------------------------------------------------- statements
class Statements:
    """Counts the statements sent to the database (an executemany counts once)."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.count += 1


def _assignments(n):
    return [assigned(f"P-{i:04d}", f"EX-{i}", T) for i in range(n)]


def test_a_batch_of_assignments_costs_a_few_statements_not_a_few_per_event(uows, other_uows):
    n, call = 50, call_published()
    for factory in (uows, other_uows):
        one_by_one(factory, [call])
    with Statements(uows.engine) as per_event:  # the events of one batch, each on its own
        uows(consumer=CONSUMER).consume_batch(
            _assignments(n), lambda uow, e: on_event(uow, e, NOW, settings()),
            prepare=lock_calls)
    with Statements(other_uows.engine) as bulk:
        assert apply_batch(other_uows, _assignments(n)) == n

    assert len(stored(other_uows)["deliveries"]) == n == len(stored(uows)["deliveries"])
    assert per_event.count >= 4 * n
    assert bulk.count <= 8, bulk.count  # claims, seen, call, assignments (2), queue


def _screenings(n):
    return [about(f.screened(), f"P-{i:04d}") for i in range(n)]


def test_a_deadlines_screenings_cost_a_few_statements_whatever_their_number(uows, other_uows):
    """A deadline screens every proposal: their letter facts are read, folded and written
    once per batch, so 5 and 50 screenings cost the same statements."""
    call = call_published()
    for factory in (uows, other_uows):
        one_by_one(factory, [call])
    with Statements(uows.engine) as few:
        assert apply_batch(uows, _screenings(5)) == 5
    with Statements(other_uows.engine) as many:
        assert apply_batch(other_uows, _screenings(50)) == 50

    assert len(stored(other_uows)["letter_facts"]) == 50
    assert many.count == few.count <= 10, (few.count, many.count)


# --------------------------------------------------------------------------- the release in pages
def test_the_release_queues_a_calls_letters_page_by_page_each_once(uows, other_uows,
                                                                    monkeypatch):
    """At the milestone every proposal's letter is derived, rendered and queued a page of
    proposals at a time, so a call of 100,000 proposals is never in memory at once; the
    log ends as with one page, each letter once, and what the batch's events before the
    milestone queued keeps its place."""
    from services.notifications.handlers import events as handling

    screenings = [about(f.screened(eligible=False, failed=f.FAILED_RULES), f"P-{i:04d}")
                  for i in range(7)]
    batch = [about(f.submitted(), "P-0900"), f.stage(), about(f.submitted(), "P-0901")]
    earlier = [call_published(), *screenings]
    for factory in (uows, other_uows):
        one_by_one(factory, earlier)
    assert apply_batch(uows, batch) == len(batch)  # pages of 1,000: one page

    queued_at_once = []
    real_queue = handling.queue

    def counting_queue(uow, notes, now):
        notes = list(notes)
        queued_at_once.append(sorted({note.proposal_id for note in notes}))
        return real_queue(uow, notes, now)

    monkeypatch.setattr(handling, "RELEASE_PAGE", 3)
    monkeypatch.setattr(handling, "queue", counting_queue)
    assert apply_batch(other_uows, batch) == len(batch)

    assert queued_at_once == [["P-0900"], ["P-0000", "P-0001", "P-0002"],
                              ["P-0003", "P-0004", "P-0005"], ["P-0006"], ["P-0901"]]
    paged, whole = stored(other_uows), stored(uows)
    assert paged == whole
    letters = [(r["proposal_id"], r["recipient"]) for r in paged["deliveries"]
               if r["template"] == "result_letter"]
    assert len(letters) == len(set(letters)) == 7 * 2  # two distinct contacts each
