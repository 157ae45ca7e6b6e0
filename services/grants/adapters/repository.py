"""Loading and saving the grants aggregates inside a unit of work.

``lock=True`` reads take a row lock on PostgreSQL (``FOR UPDATE``, or ``SKIP LOCKED`` for
the clock tick, so replicas share the work instead of queueing); SQLite ignores both,
and a SQLite service runs as one process anyway. Lock order, everywhere: grant file, then
topic ledger, then proposal clocks.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from services.grants.adapters.tables import (calls, grant_contacts, grant_files, payment_orders,
                                             proposal_clocks, stages_reached, topic_ledgers)
from services.grants.domain.grant import GrantFile, PaymentOrder, State
from services.grants.domain.reserve import TopicLedger
from services.grants.domain.terms import Beneficiary
from services.grants.domain.timing import ProposalClock
from shared.calls.loader import ParsedCalls
from shared.calls.model import Call
from shared.db.inserts import insert_all_ignoring_duplicates, insert_ignoring_duplicates
from shared.events import RankingPublished, dump, load

_FILE_COLUMNS = ("grant_id", "proposal_id", "call_id", "topic_id", "acronym", "rank",
                 "requested_grant", "total_eligible_costs", "max_grant", "duration_months",
                 "start_date", "coordinator_email", "authority_email", "invited_at",
                 "preparation_deadline", "signature_deadline", "promoted_from_reserve",
                 "data_confirmed_at", "coordinator_signed_at", "authority_signed_at",
                 "ended_at", "end_reason")
_CLOCK_FACTS = ("informed_at", "signed_at", "withdrawn", "grant_expected", "tti_breached",
                "ttg_breached")


def _money_map(data: dict | None) -> dict[str, Decimal]:
    return {key: Decimal(value) for key, value in (data or {}).items()}


def _text_map(data: dict[str, Decimal]) -> dict[str, str]:
    return {key: str(value) for key, value in data.items()}


_CALLS = ParsedCalls()
#: rows of a multi-row INSERT of clocks: 1,000 of seven values each stay far below
#: SQLite's 32,766 bound parameters per statement
_NEW_CLOCKS_PER_STATEMENT = 1000


class GrantsRepository:
    def __init__(self, session, now: datetime):
        self.session = session
        self.now = now  # stamps updated_at
        self._calls: dict[str, Call | None] = {}

    def _locked(self, query, lock: bool, skip_locked: bool = False):
        return query.with_for_update(skip_locked=skip_locked) if lock else query

    # ------------------------------------------------------------------ calls
    def call(self, call_id: str) -> Call | None:
        """Our latest copy of a call, parsed once per version and process: a stored
        version never changes, and parsing it again for every notification_delivered
        event of a big call was a third of this service's time."""
        if call_id not in self._calls:
            row = self.session.execute(sa.select(calls.c.version, calls.c.document).where(
                calls.c.call_id == call_id)).one_or_none()
            self._calls[call_id] = (None if row is None
                                    else _CALLS.get(call_id, row.version, row.document))
        return self._calls[call_id]

    def call_ids(self) -> list[str]:
        return list(self.session.execute(sa.select(calls.c.call_id)).scalars())

    def save_call(self, call: Call, document: dict) -> bool:
        """Keep ``call`` unless a newer version is already kept; True when stored."""
        row = self.session.execute(sa.select(calls.c.version).where(
            calls.c.call_id == call.id).with_for_update()).one_or_none()
        if row is not None and row.version >= call.version:
            return False
        values = dict(version=call.version, document=document, updated_at=self.now)
        if row is None:
            self.session.execute(calls.insert().values(call_id=call.id, **values))
        else:
            self.session.execute(calls.update().where(calls.c.call_id == call.id).values(**values))
        self._calls[call.id] = call
        _CALLS.keep(call)
        return True

    def record_stage(self, call_id: str, stage: str, at: datetime) -> bool:
        """The first report of a stage is kept (a redelivery or a re-announcement adds
        nothing); True when recorded now."""
        return insert_ignoring_duplicates(self.session, stages_reached, call_id=call_id,
                                          stage=stage, at=at, recorded_at=self.now)

    def stage_reached_at(self, call_id: str, stage: str) -> datetime | None:
        return self.session.execute(sa.select(stages_reached.c.at).where(
            stages_reached.c.call_id == call_id, stages_reached.c.stage == stage)).scalar()

    # ------------------------------------------------------------------ rankings, ledgers
    def ledger_row(self, call_id: str, topic_id: str, lock: bool = False):
        query = sa.select(topic_ledgers).where(topic_ledgers.c.call_id == call_id,
                                               topic_ledgers.c.topic_id == topic_id)
        return self.session.execute(self._locked(query, lock)).one_or_none()

    def unsettled_ledger_rows(self, call_id: str | None = None, skip_locked: bool = False):
        """Ledgers not yet opened or whose main list is not invited yet, locked."""
        query = sa.select(topic_ledgers).where(sa.or_(
            topic_ledgers.c.opened.is_(False), topic_ledgers.c.main_invited.is_(False)))
        if call_id is not None:
            query = query.where(topic_ledgers.c.call_id == call_id)
        query = query.order_by(topic_ledgers.c.call_id, topic_ledgers.c.topic_id)
        return self.session.execute(self._locked(query, True, skip_locked)).all()

    def store_ranking(self, ranking: RankingPublished, replace: bool) -> None:
        """Keep what the topic's ledger is made of: the main and reserve lists. The
        rejected entries never enter it, and every ledger load validates what is kept
        again (a ranking of 10,000 entries, three quarters rejected: delivered in 1.7 s
        with them, 0.7 s without)."""
        kept = dataclasses.replace(ranking, rejected=[])
        values = dict(ranking_event_id=ranking.event_id, ranked_at=ranking.occurred_at,
                      ranking=dump(kept), opened=False, amounts=None, committed=None,
                      released=None, promoted=None, dropped=None, main_invited=False,
                      invited_at=None, updated_at=self.now)
        if replace:
            self.session.execute(topic_ledgers.update().where(
                topic_ledgers.c.call_id == ranking.call_id,
                topic_ledgers.c.topic_id == ranking.topic_id).values(**values))
        else:
            self.session.execute(topic_ledgers.insert().values(
                call_id=ranking.call_id, topic_id=ranking.topic_id, **values))

    def ledger(self, row, call: Call) -> TopicLedger:
        """The ledger of a ranking row; a row not opened yet opens now (committing the
        main list at the call's co-financing cap), an opened one keeps its amounts."""
        ledger = TopicLedger.from_ranking(load(row.ranking), call)
        if row.opened:
            ledger.amounts = _money_map(row.amounts)
            ledger.committed = _money_map(row.committed)
            ledger.released = _money_map(row.released)
            ledger.promoted = list(row.promoted or [])
            ledger.dropped = list(row.dropped or [])
            ledger.main_invited = row.main_invited
        return ledger

    def save_ledger(self, ledger: TopicLedger, invited_at: datetime | None = None) -> None:
        values = dict(opened=True, amounts=_text_map(ledger.amounts),
                      committed=_text_map(ledger.committed),
                      released=_text_map(ledger.released), promoted=list(ledger.promoted),
                      dropped=list(ledger.dropped), main_invited=ledger.main_invited,
                      updated_at=self.now)
        if invited_at is not None:
            values["invited_at"] = invited_at
        self.session.execute(topic_ledgers.update().where(
            topic_ledgers.c.call_id == ledger.call_id,
            topic_ledgers.c.topic_id == ledger.topic_id).values(**values))

    # ------------------------------------------------------------------ grant files
    def grant(self, grant_id: str, lock: bool = False,
              skip_locked: bool = False) -> GrantFile | None:
        query = self._locked(sa.select(grant_files).where(grant_files.c.grant_id == grant_id),
                             lock, skip_locked)
        row = self.session.execute(query).one_or_none()
        return self._grant_from_row(row) if row else None

    def grant_of_proposal(self, proposal_id: str, lock: bool = False) -> GrantFile | None:
        query = sa.select(grant_files).where(grant_files.c.proposal_id == proposal_id)
        row = self.session.execute(self._locked(query, lock)).one_or_none()
        return self._grant_from_row(row) if row else None

    def grant_rows(self, *, call_id: str | None = None, topic_id: str | None = None,
                   state: str | None = None, email: str | None = None) -> list:
        """File rows matching every filter given (``email``: a contact of the file)."""
        query = sa.select(grant_files).order_by(grant_files.c.topic_id, grant_files.c.rank,
                                                grant_files.c.grant_id)
        for column, value in ((grant_files.c.call_id, call_id),
                              (grant_files.c.topic_id, topic_id), (grant_files.c.state, state)):
            if value:
                query = query.where(column == value)
        if email:
            query = query.where(grant_files.c.grant_id.in_(sa.select(grant_contacts.c.grant_id)
                                                           .where(grant_contacts.c.email == email)))
        return self.session.execute(query).all()

    def grant_from_row(self, row) -> GrantFile:
        return self._grant_from_row(row)

    def decline_note(self, grant_id: str) -> str | None:
        return self.session.execute(sa.select(grant_files.c.decline_note).where(
            grant_files.c.grant_id == grant_id)).scalar()

    def count_by_state(self) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.session.execute(
            sa.select(grant_files.c.call_id, grant_files.c.state, sa.func.count())
            .group_by(grant_files.c.call_id, grant_files.c.state))]

    def overdue_grant_ids(self, now: datetime, limit: int = 100) -> list[str]:
        """Open files whose coordinator missed a deadline by ``now`` (candidates: the
        domain decides)."""
        return list(self.session.execute(sa.select(grant_files.c.grant_id).where(sa.or_(
            sa.and_(grant_files.c.state == State.INVITED.value,
                    grant_files.c.preparation_deadline < now),
            sa.and_(grant_files.c.state == State.DATA_CONFIRMED.value,
                    grant_files.c.signature_deadline < now)))
            .order_by(grant_files.c.grant_id).limit(limit)).scalars())

    def add_grant(self, grant: GrantFile) -> None:
        self.session.execute(grant_files.insert().values(**self._grant_values(grant)))
        self.session.execute(grant_contacts.insert(), [
            {"grant_id": grant.grant_id, "email": email} for email in grant.readers])

    def save_grant(self, grant: GrantFile) -> None:
        values = self._grant_values(grant)
        self.session.execute(grant_files.update().where(
            grant_files.c.grant_id == grant.grant_id).values(**values))
        known = set(self.session.execute(sa.select(payment_orders.c.kind).where(
            payment_orders.c.grant_id == grant.grant_id)).scalars())
        for order in grant.payment_orders:
            if order.kind not in known:
                self.session.execute(payment_orders.insert().values(
                    grant_id=order.grant_id, kind=order.kind, amount=order.amount,
                    ordered_at=order.ordered_at))

    def set_decline_note(self, grant_id: str, note: str) -> None:
        self.session.execute(grant_files.update().where(grant_files.c.grant_id == grant_id)
                             .values(decline_note=note))

    def _grant_values(self, grant: GrantFile) -> dict:
        values = {name: getattr(grant, name) for name in _FILE_COLUMNS}
        values.update(state=grant.state.value, prefinancing_rate=str(grant.prefinancing_rate),
                      contact_emails=list(grant.contact_emails),
                      beneficiaries=[vars(b) for b in grant.beneficiaries],
                      updated_at=self.now)
        return values

    def _grant_from_row(self, row) -> GrantFile:
        orders = [PaymentOrder(o.grant_id, o.kind, o.amount, o.ordered_at)
                  for o in self.session.execute(sa.select(payment_orders).where(
                      payment_orders.c.grant_id == row.grant_id).order_by(
                      payment_orders.c.ordered_at))]
        fields = {name: getattr(row, name) for name in _FILE_COLUMNS}
        start = row.start_date
        fields["start_date"] = start if isinstance(start, date) else date.fromisoformat(start)
        return GrantFile(**fields, state=State(row.state),
                         prefinancing_rate=Decimal(row.prefinancing_rate),
                         beneficiaries=tuple(Beneficiary(**b) for b in row.beneficiaries),
                         contact_emails=tuple(row.contact_emails), payment_orders=orders)

    # ------------------------------------------------------------------ proposal clocks
    def clock(self, proposal_id: str, call_id: str) -> ProposalClock:
        """The proposal's clock facts, created on first mention and locked. The call's
        deadline is filled in when the call is known (recording facts does not need it)."""
        insert_ignoring_duplicates(self.session, proposal_clocks,
                                   **self._new_clock(proposal_id, call_id))
        query = sa.select(proposal_clocks).where(proposal_clocks.c.proposal_id == proposal_id)
        return self._clock_from_row(self.session.execute(query.with_for_update()).one())

    def clocks(self, call_of: dict[str, str]) -> dict[str, ProposalClock]:
        """The clocks of many proposals (``{proposal_id: call_id}``), created on first
        mention and locked in proposal order, in three statements whatever their number
        (one :meth:`clock` each was three statements per result letter)."""
        if not call_of:
            return {}
        insert_all_ignoring_duplicates(self.session, proposal_clocks, [
            self._new_clock(pid, call_id) for pid, call_id in sorted(call_of.items())])
        query = (sa.select(proposal_clocks)
                 .where(proposal_clocks.c.proposal_id.in_(sorted(call_of)))
                 .order_by(proposal_clocks.c.proposal_id).with_for_update())
        return {row.proposal_id: self._clock_from_row(row)
                for row in self.session.execute(query)}

    def start_clocks(self, call_id: str, proposal_ids) -> None:
        """Create the clocks (no fact yet) of a call's proposals that have none, a
        statement per 1,000 (a closing or a ranking names every proposal of a topic: one
        :meth:`clock` each was three statements per proposal). Existing clocks are left
        as they are, unlocked."""
        ids = sorted(set(proposal_ids))
        for start in range(0, len(ids), _NEW_CLOCKS_PER_STATEMENT):
            insert_all_ignoring_duplicates(self.session, proposal_clocks, [
                self._new_clock(pid, call_id)
                for pid in ids[start:start + _NEW_CLOCKS_PER_STATEMENT]])

    def _new_clock(self, proposal_id: str, call_id: str) -> dict:
        """The row of a clock created on a proposal's first mention: no fact yet."""
        return dict(proposal_id=proposal_id, call_id=call_id, withdrawn=False,
                    grant_expected=False, tti_breached=False, ttg_breached=False,
                    updated_at=self.now)

    def clocks_to_check(self, call: Call, now: datetime, limit: int = 500) -> list[ProposalClock]:
        """Clocks that may have breached a target by ``now``, locked (skip locked)."""
        rules = call.grants
        probe = ProposalClock(call.id, "", call.deadline, call.timezone)
        tti_limit, ttg_limit = probe.limit("tti", rules), probe.limit("ttg", rules)
        c = proposal_clocks.c
        conditions = []
        if now > tti_limit:
            conditions.append(sa.and_(c.tti_breached.is_(False), sa.or_(
                c.informed_at.is_(None), c.informed_at > tti_limit)))
        if now > ttg_limit:
            conditions.append(sa.and_(c.grant_expected.is_(True), c.ttg_breached.is_(False),
                                      sa.or_(c.signed_at.is_(None), c.signed_at > ttg_limit)))
        if not conditions:
            return []
        query = (sa.select(proposal_clocks)
                 .where(c.call_id == call.id, c.withdrawn.is_(False), sa.or_(*conditions))
                 .order_by(c.proposal_id).limit(limit).with_for_update(skip_locked=True))
        return [self._clock_from_row(row, call) for row in self.session.execute(query)]

    def clock_rows(self, call_id: str | None = None, proposal_id: str | None = None) -> list:
        query = sa.select(proposal_clocks).order_by(proposal_clocks.c.call_id,
                                                    proposal_clocks.c.proposal_id)
        if call_id:
            query = query.where(proposal_clocks.c.call_id == call_id)
        if proposal_id:
            query = query.where(proposal_clocks.c.proposal_id == proposal_id)
        return self.session.execute(query).all()

    def clock_from_row(self, row) -> ProposalClock:
        return self._clock_from_row(row)

    def save_clock(self, clock: ProposalClock) -> None:
        self.save_clocks([clock])

    def save_clocks(self, clocks: list[ProposalClock]) -> None:
        """Several clocks in one statement (sent in pages: shared.db.engine)."""
        if not clocks:
            return
        c = proposal_clocks.c
        self.session.execute(
            proposal_clocks.update().where(c.proposal_id == sa.bindparam("clock_id"))
            .values({name: sa.bindparam(name) for name in ("updated_at", *_CLOCK_FACTS)}),
            [{"clock_id": clock.proposal_id, "updated_at": self.now,
              **{name: getattr(clock, name) for name in _CLOCK_FACTS}}
             for clock in sorted(clocks, key=lambda clock: clock.proposal_id)])

    def _clock_from_row(self, row, call: Call | None = None) -> ProposalClock:
        call = call or self.call(row.call_id)
        return ProposalClock(call_id=row.call_id, proposal_id=row.proposal_id,
                             deadline=call.deadline if call else None,
                             timezone=call.timezone if call else "UTC",
                             **{name: getattr(row, name) for name in _CLOCK_FACTS})
