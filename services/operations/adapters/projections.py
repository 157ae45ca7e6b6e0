"""Reading and writing the operations projections (tables in :mod:`.tables`).

Write side rule: every change to the projections of one call happens while holding that
call's row lock (:meth:`Projections.lock_call`: an upsert of the call's row, which locks
it on PostgreSQL until commit), so replicas and concurrent workers that recompute a
proposal from its facts never overwrite each other with a view built from fewer facts.
The lock is taken right after the processed-event claim, in the same transaction, before
anything else is written (one lock order for every transaction: no deadlock).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from services.operations.adapters.tables import (assignments, calls, event_counts,
                                                 notification_counts, proposal_events,
                                                 proposals, timeline, topics)
from services.operations.domain.facts import Fact
from services.operations.domain.loads import Assignment, merged
from services.operations.domain.lifecycle import ProposalView
from services.operations.domain.report import TopicInfo
from services.operations.domain.reserve import Standing
from services.operations.domain.timetable import Reached
from shared.calls.loader import call_from_wire
from shared.calls.model import Call
from shared.calls.schema import InvalidCall
from shared.db.inserts import insert_for, insert_ignoring
from shared.db.session import CoreSession

#: ids per IN list and rows per read: bounded statements at any call size
_PAGE = 1000
_DECIMALS = ("total_score", "ranking_amount", "requested_grant", "grant_amount")


# ------------------------------------------------------------------ (de)serialising views
def view_to_json(view: ProposalView) -> dict:
    data = dataclasses.asdict(view)
    for name in _DECIMALS:
        data[name] = None if data[name] is None else str(data[name])
    data["state_since"] = view.state_since.isoformat() if view.state_since else None
    data["failed_rules"] = list(view.failed_rules)
    data["failed_thresholds"] = list(view.failed_thresholds)
    data["history"] = [[state, since.isoformat()] for state, since in view.history]
    return data


def view_from_json(data: dict) -> ProposalView:
    values = dict(data)
    for name in _DECIMALS:
        values[name] = None if values.get(name) is None else Decimal(values[name])
    since = values.get("state_since")
    values["state_since"] = datetime.fromisoformat(since) if since else None
    values["failed_rules"] = tuple(values.get("failed_rules") or ())
    values["failed_thresholds"] = tuple(values.get("failed_thresholds") or ())
    values["history"] = tuple((state, datetime.fromisoformat(since))
                              for state, since in values.get("history") or ())
    known = {f.name for f in dataclasses.fields(ProposalView)}
    return ProposalView(**{k: v for k, v in values.items() if k in known})


#: parsed call documents by (call id, version): a published version never changes, and
#: the page asks for the timetable every few seconds
_PARSED: dict[tuple[str, int], Call | None] = {}


def _parse_call(document: dict | None) -> Call | None:
    if document is None:
        return None
    try:
        return call_from_wire(document)
    except (InvalidCall, KeyError, TypeError, ValueError):
        return None  # shown as "not valid"; the timetable falls back to the stages reached


class Projections:
    """The projection tables seen through one unit of work's session."""

    def __init__(self, session):
        self.session = session

    def _execute(self, statement):
        return self.session.execute(statement)

    # -------------------------------------------------------------- calls
    def lock_call(self, call_id: str) -> None:
        """Create the call's row if needed and hold its lock until commit."""
        held = (self.session.info if isinstance(self.session, CoreSession) else {}
                ).setdefault("locked_calls", set())
        if call_id in held:
            # a batch locks its calls first (lock_calls), then projects each event: taking
            # the lock again wrote a new version of the call's row per event
            return
        # an upsert that writes the row locks it (PostgreSQL), in one round trip
        statement = insert_for(self.session, calls).values(call_id=call_id, reached=[])
        self._execute(statement.on_conflict_do_update(
            index_elements=["call_id"], set_={"call_id": statement.excluded.call_id}))
        held.add(call_id)

    _CALL = (calls.c.call_id, calls.c.version, calls.c.title, calls.c.reached)

    def call_row(self, call_id: str):
        """The call's version, title and stages reached (not its document)."""
        return self._execute(sa.select(*self._CALL).where(calls.c.call_id == call_id)).first()

    def call_rows(self) -> list:
        return self._execute(sa.select(*self._CALL).order_by(calls.c.call_id)).all()

    def event_counts(self, call_id: str) -> dict[str, int]:
        """How many events of each type the call has had (what a stage did)."""
        return dict(self._execute(sa.select(event_counts.c.event_type, event_counts.c.count)
                                  .where(event_counts.c.call_id == call_id)).all())

    def call_zone(self, call_id: str) -> str | None:
        """The call's time zone, once ``call_published`` is known (due dates are shown in it)."""
        call = self.call_of(self.call_row(call_id))
        return call.timezone if call is not None else None

    def call_of(self, row) -> Call | None:
        """The Call of a ``calls`` row: None before ``call_published``, or if its document
        does not validate."""
        if row is None or row.version is None:
            return None
        key = (row.call_id, row.version)
        if key not in _PARSED:
            if len(_PARSED) > 32:
                _PARSED.clear()
            _PARSED[key] = _parse_call(self._execute(
                sa.select(calls.c.call).where(calls.c.call_id == row.call_id)).scalar())
        return _PARSED[key]

    def publish_call(self, call_id: str, version: int, title: str, wire: dict) -> None:
        """Keep the highest version of the call document."""
        row = self.call_row(call_id)
        if row.version is None or version > row.version:
            self._execute(calls.update().where(calls.c.call_id == call_id).values(
                version=version, title=title, call=wire))

    def reach(self, call_id: str, reached: Reached) -> None:
        row = self.call_row(call_id)
        entries = list(row.reached or [])
        entry = {"stage": reached.stage, "label": reached.label, "at": reached.at.isoformat()}
        if entry not in entries:
            self._execute(calls.update().where(calls.c.call_id == call_id).values(
                reached=sorted(entries + [entry], key=lambda e: (e["at"], e["stage"]))))

    @staticmethod
    def reached_of(row) -> list[Reached]:
        return [Reached(e["stage"], e["label"], datetime.fromisoformat(e["at"]))
                for e in (row.reached or [])] if row is not None else []

    # -------------------------------------------------------------- facts and views
    def add_facts(self, call_id: str, facts: list[tuple[str, Fact]]) -> None:
        """Keep every fact (executemany: a ranking or deadline of 100,000 proposals is
        sent in pages, not as one statement with a bind parameter per value)."""
        if not facts:
            return
        self.session.execute(insert_ignoring(self.session, proposal_events), [
            {"proposal_id": pid, "event_id": f.event_id, "call_id": call_id,
             "event_type": f.event_type, "occurred_at": f.occurred_at,
             "causation_id": f.causation_id, "data": f.data, "summary": f.summary}
            for pid, f in facts])

    def facts(self, proposal_id: str, event_types=None, with_data: bool = True) -> list[Fact]:
        columns = [proposal_events.c.event_id, proposal_events.c.event_type,
                   proposal_events.c.occurred_at, proposal_events.c.causation_id,
                   proposal_events.c.summary]
        if with_data:
            columns.append(proposal_events.c.data)
        query = sa.select(*columns).where(proposal_events.c.proposal_id == proposal_id)
        if event_types is not None:
            query = query.where(proposal_events.c.event_type.in_(sorted(event_types)))
        return [_fact_of(r, with_data) for r in self._execute(query)]

    def facts_by_proposal(self, proposal_ids, event_types=None,
                          with_data: bool = True) -> dict[str, list[Fact]]:
        """The facts of many proposals at once (a query per 1,000 proposals): with data to
        recompute their views, without for their timelines."""
        found: dict[str, list[Fact]] = {pid: [] for pid in proposal_ids}
        e = proposal_events.c
        columns = [e.proposal_id, e.event_id, e.event_type, e.occurred_at, e.causation_id,
                   e.summary] + ([e.data] if with_data else [])
        ids = sorted(found)
        for start in range(0, len(ids), _PAGE):
            query = sa.select(*columns).where(e.proposal_id.in_(ids[start:start + _PAGE]))
            if event_types is not None:
                query = query.where(e.event_type.in_(sorted(event_types)))
            for r in self._execute(query):
                found[r.proposal_id].append(_fact_of(r, with_data))
        return found

    def payloads(self, event_ids: list[str]) -> dict[str, dict]:
        """The wire payloads of these events, from the timeline (the audit log)."""
        return dict(self._execute(sa.select(timeline.c.event_id, timeline.c.payload).where(
            timeline.c.event_id.in_(event_ids))).all())

    def call_payloads(self, call_id: str) -> list[dict]:
        """Every event of a call, as received, in the order they happened."""
        return list(self._execute(sa.select(timeline.c.payload).where(
            timeline.c.call_id == call_id).order_by(timeline.c.occurred_at,
                                                    timeline.c.recorded_at)).scalars())

    def clear(self, call_id: str) -> None:
        """Forget every projection of a call (not its timeline nor its event counts)."""
        for table in (proposal_events, proposals, topics, assignments, notification_counts):
            self._execute(table.delete().where(table.c.call_id == call_id))
        self._execute(calls.update().where(calls.c.call_id == call_id).values(
            version=None, title=None, call=None, reached=[]))

    def save_views(self, call_id: str, views: list[ProposalView], now: datetime) -> None:
        """Store the views (one executemany upsert: the view replaces what was there)."""
        if not views:
            return
        statement = insert_for(self.session, proposals)
        columns = [c.name for c in proposals.c if c.name != "proposal_id"]
        self.session.execute(statement.on_conflict_do_update(
            index_elements=["proposal_id"],
            set_={name: statement.excluded[name] for name in columns}), [
            {"proposal_id": view.proposal_id, "call_id": call_id, "topic_id": view.topic_id,
             "acronym": view.acronym, "state": view.state, "final_state": view.final_state,
             "list": view.list, "rank": view.rank, "promoted": view.promoted,
             "ranking_amount": view.ranking_amount,
             "signed_amount": view.grant_amount if view.signed else None,
             "view": view_to_json(view), "updated_at": now} for view in views])

    @staticmethod
    def _view_of(row) -> ProposalView:
        # the columns hold the state: the reserve rule updates them without the document
        return dataclasses.replace(view_from_json(row.view), state=row.state,
                                   final_state=row.final_state)

    def view(self, proposal_id: str) -> tuple[str, ProposalView] | None:
        row = self._execute(sa.select(proposals.c.call_id, proposals.c.view, proposals.c.state,
                                      proposals.c.final_state).where(
            proposals.c.proposal_id == proposal_id)).first()
        return None if row is None else (row.call_id, self._view_of(row))

    def views(self, call_id: str) -> list[ProposalView]:
        """Every view of the call at once, in report order (the plots read them all)."""
        return [view for page in self.views_in_pages(call_id) for view in page]

    def views_in_pages(self, call_id: str, page: int = _PAGE, topic_id: str | None = None,
                       state: str | None = None) -> Iterator[list[ProposalView]]:
        """The call's views (optionally of one topic or state) in report order (topic;
        ranked by rank, then the unranked; proposal id), ``page`` at a time from one query
        on a server-side cursor: a call of 100,000 proposals is read in one snapshot
        without being held in memory."""
        p = proposals.c
        query = sa.select(p.view, p.state, p.final_state).where(p.call_id == call_id)
        if topic_id is not None:
            query = query.where(p.topic_id == topic_id)
        if state is not None:
            query = query.where(p.state == state)
        query = query.order_by(sa.func.coalesce(p.topic_id, ""), p.rank.is_(None), p.rank,
                               p.proposal_id)
        for rows in self._execute(query.execution_options(yield_per=page)).partitions():
            yield [self._view_of(r) for r in rows]

    def has_proposals(self, call_id: str) -> bool:
        return self._execute(sa.select(proposals.c.proposal_id).where(
            proposals.c.call_id == call_id).limit(1)).first() is not None

    def standings(self, call_id: str, topic_id: str) -> list[Standing]:
        """The ranked proposals of a topic as the reserve rule reads them."""
        p = proposals.c
        return [Standing(r.proposal_id, r.list, r.state, r.promoted, r.ranking_amount,
                         r.signed_amount) for r in self._execute(
            sa.select(p.proposal_id, p.list, p.state, p.promoted, p.ranking_amount,
                      p.signed_amount).where(p.call_id == call_id, p.topic_id == topic_id,
                                             p.list.is_not(None)))]

    def set_state(self, proposal_id: str, state: str, final_state: str | None,
                  now: datetime) -> None:
        self._execute(proposals.update().where(proposals.c.proposal_id == proposal_id).values(
            state=state, final_state=final_state, updated_at=now))

    def proposal_call(self, proposal_id: str) -> str | None:
        """The call of a proposal known only by its facts (no view yet)."""
        return self._execute(sa.select(proposal_events.c.call_id).where(
            proposal_events.c.proposal_id == proposal_id).limit(1)).scalar()

    def state_counts(self) -> list[tuple[str, str, int]]:
        return [(r.call_id, r.state, r.n) for r in self._execute(
            sa.select(proposals.c.call_id, proposals.c.state,
                      sa.func.count().label("n")).group_by(proposals.c.call_id,
                                                           proposals.c.state))]

    def proposal_counts(self) -> dict[str, int]:
        return {r.call_id: r.n for r in self._execute(
            sa.select(proposals.c.call_id, sa.func.count().label("n"))
            .group_by(proposals.c.call_id))}

    # -------------------------------------------------------------- topics
    def rank_topic(self, call_id: str, topic_id: str, budget: Decimal, funded_total: Decimal,
                   event_id: str, at: datetime) -> None:
        """Keep the latest ranking of the topic (by instant, then event id)."""
        row = self._execute(sa.select(topics).where(
            topics.c.call_id == call_id, topics.c.topic_id == topic_id)).first()
        values = {"budget": budget, "funded_total": funded_total, "ranking_event_id": event_id,
                  "ranking_at": at}
        if row is None:
            self._execute(topics.insert().values(call_id=call_id, topic_id=topic_id, **values))
        elif (at, event_id) > (row.ranking_at, row.ranking_event_id):
            self._execute(topics.update().where(topics.c.call_id == call_id,
                                                topics.c.topic_id == topic_id).values(**values))

    def ranked_topic_ids(self, call_id: str) -> list[str]:
        return list(self._execute(sa.select(proposals.c.topic_id).distinct().where(
            proposals.c.call_id == call_id, proposals.c.list.is_not(None))).scalars())

    def topic_infos(self, call_id: str, call: Call | None) -> list[TopicInfo]:
        rows = {r.topic_id: r for r in self._execute(
            sa.select(topics).where(topics.c.call_id == call_id))}
        titles = {t.id: t for t in call.topics} if call is not None else {}
        infos = []
        for topic_id in sorted(set(rows) | set(titles)):
            row, topic = rows.get(topic_id), titles.get(topic_id)
            infos.append(TopicInfo(
                topic_id, title=topic.title if topic else None,
                budget=row.budget if row is not None and row.budget is not None
                else (topic.budget if topic else None),
                ranked=row is not None,
                ranking_funded_total=row.funded_total if row is not None else None))
        return infos

    # -------------------------------------------------------------- assignments
    def merge_assignments(self, call_id: str, facts: list[Assignment]) -> None:
        """Fold assignment facts into their (expert, proposal) records (domain
        :func:`merged`): the records they touch are read in one query and written back in
        one executemany upsert. The call's lock is held, so nobody merges in between."""
        if not facts:
            return
        a = assignments.c
        keys = sorted({(f.expert_id, f.proposal_id) for f in facts})
        records: dict[tuple[str, str], Assignment] = {}
        for start in range(0, len(keys), _PAGE):
            for r in self._execute(sa.select(assignments).where(
                    a.call_id == call_id,
                    sa.tuple_(a.expert_id, a.proposal_id).in_(keys[start:start + _PAGE]))):
                records[(r.expert_id, r.proposal_id)] = _assignment_of(r)
        for fact in facts:
            key = (fact.expert_id, fact.proposal_id)
            records[key] = merged(records.get(key), fact)
        statement = insert_for(self.session, assignments)
        changing = ("topic_id", "expert_name", "expert_email", "assigned_at", "released_at",
                    "report_final")
        self.session.execute(statement.on_conflict_do_update(
            index_elements=["call_id", "expert_id", "proposal_id"],
            set_={name: statement.excluded[name] for name in changing}), [
            {"call_id": call_id, **dataclasses.asdict(records[key])} for key in keys])

    def assignments(self, call_id: str | None = None) -> list[Assignment]:
        query = sa.select(assignments)
        if call_id is not None:
            query = query.where(assignments.c.call_id == call_id)
        return [_assignment_of(r) for r in self._execute(query)]

    # -------------------------------------------------------------- notifications
    def count_events(self, counts: Counter) -> None:
        """Add ``{(call_id, event_type): n}`` to the event counters."""
        _add_counts(self.session, event_counts, ("call_id", "event_type"), counts)

    def count_notifications(self, counts: Counter) -> None:
        """Add ``{(call_id, template, outcome): n}`` to the notification counters."""
        _add_counts(self.session, notification_counts, ("call_id", "template", "outcome"),
                    counts)

    def first_deliveries(self, call_id: str, template: str) -> dict[str, datetime]:
        """Per proposal of the call, when the first message of ``template`` reached its
        SMTP server (``notification_delivered``): for the time to inform."""
        e = proposal_events.c
        return _first_deliveries(self._execute(
            sa.select(e.proposal_id, e.occurred_at, e.data).where(
                e.call_id == call_id, e.event_type == "notification_delivered")), template)

    def event_total(self, call_id: str) -> int:
        """How many events of the call were projected (it grows with every one)."""
        return self._execute(sa.select(sa.func.coalesce(sa.func.sum(event_counts.c.count), 0))
                             .where(event_counts.c.call_id == call_id)).scalar()

    def notification_counts(self, call_id: str) -> dict[tuple[str, str], int]:
        return {(r.template, r.outcome): r.count for r in self._execute(
            sa.select(notification_counts).where(notification_counts.c.call_id == call_id))}


def _add_counts(session, table, key_columns: tuple[str, ...], counts: Counter) -> None:
    """One executemany upsert adding each key's count to its counter row."""
    if not counts:
        return
    statement = insert_for(session, table)
    session.execute(statement.on_conflict_do_update(
        index_elements=list(key_columns),
        set_={"count": table.c.count + statement.excluded["count"]}), [
        {**dict(zip(key_columns, key)), "count": n} for key, n in sorted(counts.items())])


def _fact_of(row, with_data: bool) -> Fact:
    return Fact(row.event_id, row.event_type, row.occurred_at, row.causation_id,
                row.data if with_data else {}, row.summary)


def _assignment_of(row) -> Assignment:
    return Assignment(row.expert_id, row.proposal_id, row.topic_id, row.expert_name,
                      row.expert_email, row.assigned_at, row.released_at, row.report_final)


def _first_deliveries(rows, template: str) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for row in rows:
        if (row.data or {}).get("template") == template and (
                row.proposal_id not in first or row.occurred_at < first[row.proposal_id]):
            first[row.proposal_id] = row.occurred_at
    return first
