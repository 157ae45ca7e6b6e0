"""Loading and saving the evaluation service's state (SQLAlchemy Core on its own tables).

Functions take the unit of work and run inside the caller's transaction; none commits.
Rows become domain objects here (experts, reports, declarations, consensus results, calls)
and back, with Decimals as text inside JSON columns.
"""
from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa

from services.evaluation.adapters.tables import (
    assignments, calls, declarations, experts, pool_revision, proposals, reports, stages,
    topics)
from services.evaluation.domain.conflicts import Consortium, DeclaredConflict
from services.evaluation.domain.consensus import ConsensusNote, ConsensusResult, Spread
from services.evaluation.domain.experts import Expert
from services.evaluation.domain.planning import ProposalState
from services.evaluation.domain.reports import Report
from shared.calls.loader import ParsedCalls
from shared.calls.model import Call
from shared.db.inserts import insert_for, insert_ignoring_duplicates

_CALLS = ParsedCalls()

# The statements of the busiest paths (an evaluator's report above all), built once with
# bind parameters: building a Core statement at each call (coercing every comparison,
# then computing the cache key under which SQLAlchemy finds its compiled form) took about
# a third of this process's CPU for a report (bench/report_writes.py); a statement object
# computes its cache key once.
_CALL_VERSION = sa.select(calls.c.version).where(calls.c.call_id == sa.bindparam("call_id"))
_TOPIC = sa.select(topics).where(topics.c.call_id == sa.bindparam("call_id"),
                                 topics.c.topic_id == sa.bindparam("topic_id"))
_TOPIC_LOCKED = _TOPIC.with_for_update()
_PROPOSAL = sa.select(proposals).where(proposals.c.proposal_id == sa.bindparam("proposal_id"))
_PROPOSAL_LOCKED = _PROPOSAL.with_for_update()
_EXPERT_BY_EMAIL = sa.select(experts).where(experts.c.email == sa.bindparam("email"))
_STAGE_AT = sa.select(stages.c.at).where(stages.c.call_id == sa.bindparam("call_id"),
                                         stages.c.stage == sa.bindparam("stage"))
# an UPDATE sets the columns its parameters name; the key's parameters are named apart
_PROPOSAL_UPDATE = proposals.update().where(
    proposals.c.proposal_id == sa.bindparam("key_proposal_id"))
_REPORT_UPDATE = reports.update().where(*(reports.c[column] == sa.bindparam(f"key_{column}")
                                          for column in ("proposal_id", "expert_id", "kind")))
_REPORT_INSERT = reports.insert()


@functools.cache
def _filtered(table: sa.Table, by: tuple[str, ...], order: tuple[str, ...],
              **fixed) -> sa.Select:
    """``SELECT`` of ``table`` where each column of ``by`` equals its bind parameter (of
    the column's name; a name ending in ``_ids`` takes a list: ``IN``) and each
    ``fixed`` column its value, ordered by ``order``: built once for each shape."""
    query = sa.select(table).where(*(table.c[column] == value
                                     for column, value in fixed.items()))
    for name in by:
        if name.endswith("_ids"):
            column = table.c[name.removesuffix("s")]
            query = query.where(column.in_(sa.bindparam(name, expanding=True)))
        else:
            query = query.where(table.c[name] == sa.bindparam(name))
    return query.order_by(*(table.c[column] for column in order))


def _given(**params) -> dict:
    """The parameters that are set (a ``None`` filter is no filter), lists as lists."""
    return {name: list(value) if name.endswith("_ids") else value
            for name, value in params.items() if value is not None}


def _one(uow, query, params: dict | None = None):
    return uow.session.execute(query, params).one_or_none()


# ------------------------------------------------------------------ calls and stages
def load_call(uow, call_id: str) -> Call | None:
    """Our latest copy of a call (parsed once per version and process), its version read
    once per transaction: an evaluator's report needs the call for who may see the
    proposal, for the report's rules and for the consensus, and read its version three
    times. A later transaction reads the version again."""
    known = _calls_read(uow)
    if call_id in known:
        return known[call_id]
    version = uow.session.execute(_CALL_VERSION, {"call_id": call_id}).scalar()
    if version is None:
        return None
    known[call_id] = _CALLS.fetched(call_id, version, lambda: uow.session.execute(sa.select(
        calls.c.document).where(calls.c.call_id == call_id)).scalar())
    return known[call_id]


def _calls_read(uow) -> dict[str, Call]:
    """The calls read in the current transaction (the session's ``info`` is emptied when
    it ends)."""
    return uow.session.info.setdefault("evaluation.calls", {})


def save_call(uow, call: Call, document: dict, now: datetime) -> bool:
    """Keep ``call`` if it is newer than our copy; returns whether it was stored."""
    row = _one(uow, sa.select(calls.c.version).where(calls.c.call_id == call.id).with_for_update())
    if row is not None and row.version >= call.version:
        return False
    values = dict(version=call.version, document=document, updated_at=now)
    if row is None:
        uow.session.execute(calls.insert().values(call_id=call.id, **values))
    else:
        uow.session.execute(calls.update().where(calls.c.call_id == call.id).values(**values))
    _CALLS.keep(call)
    _calls_read(uow)[call.id] = call
    return True


def call_ids(uow) -> list[str]:
    return list(uow.session.execute(sa.select(calls.c.call_id).order_by(calls.c.call_id)).scalars())


def stage_reached(uow, call_id: str, stage: str) -> bool:
    return uow.session.execute(_STAGE_AT, {"call_id": call_id, "stage": stage}
                               ).first() is not None


def record_stage(uow, call_id: str, stage: str, at: datetime) -> bool:
    if stage_reached(uow, call_id, stage):
        return False
    insert_ignoring_duplicates(uow.session, stages, call_id=call_id, stage=stage, at=at)
    return True


# ------------------------------------------------------------------ topics
def topic_row(uow, call_id: str, topic_id: str, lock: bool = False):
    return _one(uow, _TOPIC_LOCKED if lock else _TOPIC,
                {"call_id": call_id, "topic_id": topic_id})


def ensure_topic(uow, call_id: str, topic_id: str):
    row = topic_row(uow, call_id, topic_id)
    if row is None:
        insert_ignoring_duplicates(uow.session, topics, call_id=call_id, topic_id=topic_id,
                                   assignment_status="pending")
        row = topic_row(uow, call_id, topic_id)
    return row


def update_topic(uow, call_id: str, topic_id: str, **values) -> None:
    uow.session.execute(topics.update().where(topics.c.call_id == call_id,
                                              topics.c.topic_id == topic_id).values(**values))


def topic_rows(uow, call_id: str | None = None, with_ranking: bool = True) -> list:
    """The topics' rows; ``with_ranking=False`` leaves out the published ranking (every
    proposal of the topic, in JSON): the sweeper looks every second, and decoding the
    rankings of a 10,000-proposal call kept evaluation at a full core after ranking."""
    columns = [c for c in topics.c if with_ranking or c.name != "ranking"]
    query = sa.select(*columns).order_by(topics.c.call_id, topics.c.topic_id)
    if call_id is not None:
        query = query.where(topics.c.call_id == call_id)
    return list(uow.session.execute(query))


# ------------------------------------------------------------------ proposals
def proposal_row(uow, proposal_id: str, lock: bool = False):
    return _one(uow, _PROPOSAL_LOCKED if lock else _PROPOSAL, {"proposal_id": proposal_id})


def ensure_proposal(uow, proposal_id: str, call_id: str, topic_id: str):
    """The proposal's row, created if new, locked for the caller's transaction."""
    row = proposal_row(uow, proposal_id, lock=True)
    if row is None:
        insert_ignoring_duplicates(uow.session, proposals, proposal_id=proposal_id,
                                   call_id=call_id, topic_id=topic_id)
        row = proposal_row(uow, proposal_id, lock=True)
    return row


def note_manifest(uow, call_id: str, topic_id: str, entries: list[dict]) -> None:
    """A topic's manifest (``proposal_id``, ``version``, ``received_at`` each): every
    proposal created if new, and marked in the manifest with its frozen version and receipt
    time, in one statement (multi-row INSERTs that update the rows that exist). A topic of
    10,000 proposals took 40,000 statements one proposal at a time (a locked look, an
    INSERT, a second look, an UPDATE). The rows go in proposal-id order, the order in which
    a batch of screenings locks them (:func:`note_screenings`), so the two never deadlock."""
    rows = {entry["proposal_id"]: {
        "proposal_id": entry["proposal_id"], "call_id": call_id, "topic_id": topic_id,
        "in_manifest": True, "version": entry["version"],
        "received_at": entry["received_at"]} for entry in entries}
    if not rows:
        return
    insert = insert_for(uow.session, proposals)
    uow.session.execute(insert.on_conflict_do_update(
        index_elements=["proposal_id"],
        set_={column: insert.excluded[column]
              for column in ("in_manifest", "version", "received_at")}),
        [rows[pid] for pid in sorted(rows)])


def note_screenings(uow, screenings: list[dict]) -> set[str]:
    """Screening outcomes (``proposal_id``, ``call_id``, ``topic_id``, ``eligible``,
    ``snapshot``, ``contact_emails``, ``version`` each), in one statement: a proposal not
    known yet is created screened; a known one not screened yet takes the outcome (its
    frozen version, if the manifest gave one, stays); one screened already is left as it
    is. Returns the ids that took their outcome now. Rows are locked in proposal-id order
    (see :func:`note_manifest`); of one proposal's screenings the first counts."""
    rows: dict[str, dict] = {}
    for screening in screenings:
        rows.setdefault(screening["proposal_id"], {**screening, "screened": True})
    if not rows:
        return set()
    insert = insert_for(uow.session, proposals)
    statement = insert.on_conflict_do_update(
        index_elements=["proposal_id"],
        set_={"screened": True, "eligible": insert.excluded.eligible,
              "snapshot": insert.excluded.snapshot,
              "contact_emails": insert.excluded.contact_emails,
              "version": sa.func.coalesce(proposals.c.version, insert.excluded.version)},
        where=proposals.c.screened.is_(False)).returning(proposals.c.proposal_id)
    return set(uow.session.execute(statement, [rows[pid] for pid in sorted(rows)]).scalars())


def update_proposal(uow, proposal_id: str, **values) -> None:
    uow.session.execute(_PROPOSAL_UPDATE, {"key_proposal_id": proposal_id, **values})


def update_proposals(uow, values_by_id: dict[str, dict]) -> None:
    """The same columns of many proposals (``values_by_id``: the values of each), sent
    in batches of statements (psycopg2's execute_batch) rather than one at a time: a
    ranking sets the outcome of every proposal of its topic (38,000 in the largest topic
    of a 100,000-proposal call; 10,000 one at a time took 1.4 s on PostgreSQL, batched
    0.26 s)."""
    if values_by_id:
        uow.session.execute(_PROPOSAL_UPDATE, [{"key_proposal_id": proposal_id, **values}
                                               for proposal_id, values in values_by_id.items()])


def topic_proposals(uow, call_id: str, topic_id: str) -> list:
    return list(uow.session.execute(sa.select(proposals).where(
        proposals.c.call_id == call_id, proposals.c.topic_id == topic_id)
        .order_by(proposals.c.proposal_id)))


def topic_states(uow, call_id: str, topic_id: str) -> list[ProposalState]:
    """Where each proposal of a topic stands, reading only the columns that tell."""
    c = proposals.c
    return [proposal_state(row) for row in uow.session.execute(
        sa.select(c.proposal_id, c.in_manifest, c.screened, c.eligible, c.withdrawn_at,
                  c.completed_at).where(c.call_id == call_id, c.topic_id == topic_id))]


def any_blocking_ranking(uow, call_id: str, topic_id: str) -> bool:
    """Whether a proposal of the topic certainly keeps it from being ranked: in the
    manifest, not withdrawn, not completed, and either awaiting its screening or screened
    eligible (:attr:`ProposalState.awaiting_screening`, or taking part and incomplete).
    One indexed look at the open proposals (``ix_proposals_open``) instead of every row of
    the topic; a False is only "maybe complete": the domain reads all the states then."""
    c = proposals.c
    return uow.session.execute(sa.select(c.proposal_id).where(
        c.call_id == call_id, c.topic_id == topic_id, c.completed_at.is_(None),
        c.in_manifest.is_(True), c.withdrawn_at.is_(None),
        sa.or_(c.screened.is_(False), c.eligible.is_(True))).limit(1)).first() is not None


def proposal_state(row) -> ProposalState:
    return ProposalState(row.proposal_id, bool(row.in_manifest), bool(row.screened),
                         bool(row.eligible), row.withdrawn_at is not None,
                         row.completed_at is not None)


def consortium(row) -> Consortium:
    return Consortium.from_snapshot(row.proposal_id, row.snapshot or {"participants": []})


def is_contact(row, email: str) -> bool:
    return email.lower() in {e.lower() for e in (row.contact_emails or ())}


# ------------------------------------------------------------------ experts
def row_to_expert(row) -> Expert:
    return Expert(id=row.id, name=row.name, email=row.email, country=row.country,
                  organisation_id=row.organisation_id,
                  expertise_areas=tuple(row.expertise_areas), max_load=row.max_load,
                  keywords=tuple(row.keywords), languages=tuple(row.languages),
                  active=bool(row.active))


def _expert_values(expert: Expert) -> dict:
    return dict(name=expert.name, email=expert.email, country=expert.country,
                organisation_id=expert.organisation_id,
                expertise_areas=list(expert.expertise_areas), keywords=list(expert.keywords),
                languages=list(expert.languages), max_load=expert.max_load,
                active=expert.active)


def all_experts(uow) -> list[Expert]:
    return [row_to_expert(r) for r in uow.session.execute(sa.select(experts).order_by(experts.c.id))]


def expert_by_id(uow, expert_id: str, lock: bool = False) -> Expert | None:
    query = sa.select(experts).where(experts.c.id == expert_id)
    row = _one(uow, query.with_for_update() if lock else query)
    return None if row is None else row_to_expert(row)


def expert_by_email(uow, email: str) -> Expert | None:
    row = _one(uow, _EXPERT_BY_EMAIL, {"email": email.lower()})
    return None if row is None else row_to_expert(row)


def insert_expert(uow, expert: Expert, now: datetime) -> None:
    uow.session.execute(experts.insert().values(id=expert.id, created_at=now, updated_at=now,
                                                **_expert_values(expert)))


def update_expert(uow, expert: Expert, now: datetime) -> None:
    uow.session.execute(experts.update().where(experts.c.id == expert.id).values(
        updated_at=now, **_expert_values(expert)))


# ------------------------------------------------------------------ assignments
def active_assignments(uow, *, proposal_ids: Iterable[str] | None = None,
                       expert_id: str | None = None) -> list:
    params = _given(proposal_ids=proposal_ids, expert_id=expert_id)
    query = _filtered(assignments, tuple(params), ("proposal_id", "expert_id"), status="active")
    return list(uow.session.execute(query, params))


def assignment_row(uow, proposal_id: str, expert_id: str):
    return _one(uow, sa.select(assignments).where(assignments.c.proposal_id == proposal_id,
                                                  assignments.c.expert_id == expert_id))


def released_pairs(uow, proposal_ids: Iterable[str]) -> set[tuple[str, str]]:
    rows = uow.session.execute(sa.select(assignments.c.expert_id, assignments.c.proposal_id)
                               .where(assignments.c.status == "released",
                                      assignments.c.proposal_id.in_(list(proposal_ids))))
    return {(r.expert_id, r.proposal_id) for r in rows}


def active_loads(uow) -> Counter:
    rows = uow.session.execute(sa.select(assignments.c.expert_id, assignments.c.proposal_id)
                               .where(assignments.c.status == "active"))
    return Counter(r.expert_id for r in rows)


def add_assignment(uow, *, proposal_id: str, expert_id: str, topic_id: str, reason: str,
                   now: datetime, due_at: datetime, note: str | None = None) -> None:
    add_assignments(uow, [assignment_values(proposal_id=proposal_id, expert_id=expert_id,
                                            topic_id=topic_id, reason=reason, now=now,
                                            due_at=due_at, note=note)])


def assignment_values(*, proposal_id: str, expert_id: str, topic_id: str, reason: str,
                      now: datetime, due_at: datetime, note: str | None = None) -> dict:
    """The row of an active assignment, as :func:`add_assignments` takes it."""
    return dict(proposal_id=proposal_id, expert_id=expert_id, topic_id=topic_id,
                status="active", reason=reason, assigned_at=now, due_at=due_at,
                released_at=None, release_reason=None, note=note)


def add_assignments(uow, rows: list[dict]) -> None:
    """Make each pair of ``rows`` (:func:`assignment_values`) active, in one statement
    for all of them, sent as multi-row INSERTs: a new pair is inserted, and a pair released
    before for a reason that no longer holds (an operator's override) is made active again
    with the new values. The first assignment of a topic writes three pairs a proposal
    (300,000 in a 100,000-proposal call): a look for the pair and an INSERT each, one
    pair at a time, were most of the service's work at the start of evaluation after the
    solve (bench/assignment_write.py)."""
    # a pair twice in one statement would be an error (ON CONFLICT cannot update a row it
    # inserted); one at a time, the later values won
    by_pair = {(row["proposal_id"], row["expert_id"]): row for row in rows}
    if not by_pair:
        return
    insert = insert_for(uow.session, assignments)
    uow.session.execute(insert.on_conflict_do_update(
        index_elements=["proposal_id", "expert_id"],
        set_={column.name: insert.excluded[column.name] for column in assignments.columns
              if not column.primary_key}), list(by_pair.values()))


def release_assignment(uow, proposal_id: str, expert_id: str, reason: str, now: datetime,
                       note: str | None = None) -> None:
    uow.session.execute(assignments.update().where(
        assignments.c.proposal_id == proposal_id, assignments.c.expert_id == expert_id)
        .values(status="released", released_at=now, release_reason=reason, note=note))


# ------------------------------------------------------------------ declarations
def _declaration(row) -> DeclaredConflict:
    return DeclaredConflict(row.expert_id, row.proposal_id, row.source, row.reason,
                            row.declared_by, row.declared_at)


def declarations_for(uow, *, proposal_ids: Iterable[str] | None = None,
                     expert_id: str | None = None) -> list[DeclaredConflict]:
    params = _given(proposal_ids=proposal_ids, expert_id=expert_id)
    query = _filtered(declarations, tuple(params), ("declared_at",))
    return [_declaration(r) for r in uow.session.execute(query, params)]


def save_declaration(uow, declared: DeclaredConflict) -> bool:
    exists = _one(uow, sa.select(declarations.c.source).where(
        declarations.c.expert_id == declared.expert_id,
        declarations.c.proposal_id == declared.proposal_id))
    if exists is not None:
        return False  # declarations are never lifted nor rewritten
    uow.session.execute(declarations.insert().values(
        expert_id=declared.expert_id, proposal_id=declared.proposal_id, source=declared.source,
        reason=declared.reason, declared_by=declared.declared_by,
        declared_at=declared.declared_at))
    return True


# ------------------------------------------------------------------ reports
def _report(row) -> Report:
    return Report(row.proposal_id, row.expert_id,
                  {k: Decimal(v) for k, v in row.scores.items()}, dict(row.comments),
                  row.updated_at, row.kind, bool(row.final), row.finalised_at)


def reports_for(uow, proposal_id: str, expert_id: str | None = None) -> list[Report]:
    params = {"proposal_id": proposal_id, **_given(expert_id=expert_id)}
    query = _filtered(reports, tuple(params), ("expert_id", "kind"))
    return [_report(r) for r in uow.session.execute(query, params)]


def report_of(uow, proposal_id: str, expert_id: str, kind: str) -> Report | None:
    return next((r for r in reports_for(uow, proposal_id, expert_id) if r.kind == kind), None)


def save_report(uow, report: Report, existed: bool) -> None:
    values = dict(scores={k: str(v) for k, v in report.scores.items()},
                  comments=dict(report.comments), final=report.final,
                  updated_at=report.updated_at, finalised_at=report.finalised_at)
    key = dict(proposal_id=report.proposal_id, expert_id=report.expert_id, kind=report.kind)
    if existed:
        uow.session.execute(_REPORT_UPDATE, {**{f"key_{k}": v for k, v in key.items()}, **values})
    else:
        uow.session.execute(_REPORT_INSERT, {**key, **values})


# ------------------------------------------------------------------ consensus
def consensus_to_json(result: ConsensusResult) -> dict:
    return {"proposal_id": result.proposal_id, "method": result.method,
            "scores": {k: str(v) for k, v in result.scores.items()},
            "comments": dict(result.comments), "total": str(result.total),
            "failed_thresholds": list(result.failed_thresholds),
            "spread": str(result.spread.value), "spread_threshold": str(result.spread.threshold),
            "resolutions": list(result.resolutions), "report_count": result.report_count}


def consensus_from_json(data: dict) -> ConsensusResult:
    return ConsensusResult(
        data["proposal_id"], data["method"], {k: Decimal(v) for k, v in data["scores"].items()},
        dict(data["comments"]), Decimal(data["total"]), tuple(data["failed_thresholds"]),
        Spread(Decimal(data["spread"]), Decimal(data["spread_threshold"])),
        tuple(data["resolutions"]), int(data["report_count"]))


def note_to_json(note: ConsensusNote) -> dict:
    return {"text": note.text, "recorded_by": note.recorded_by,
            "recorded_at": note.recorded_at.isoformat()}


def note_from_json(proposal_id: str, data: dict | None) -> ConsensusNote | None:
    if not data:
        return None
    return ConsensusNote(proposal_id, data["text"], data["recorded_by"],
                         datetime.fromisoformat(data["recorded_at"]))


# ------------------------------------------------------------------ revision
def revision(uow, lock: bool = False) -> int:
    query = sa.select(pool_revision.c.value).where(pool_revision.c.id == 1)
    row = _one(uow, query.with_for_update() if lock else query)
    return 0 if row is None else row.value


def bump_revision(uow) -> int:
    """Record that something a solve depends on changed (experts, pairs, declarations)."""
    updated = uow.session.execute(pool_revision.update().where(pool_revision.c.id == 1)
                                  .values(value=pool_revision.c.value + 1)).rowcount
    if not updated:
        uow.session.execute(pool_revision.insert().values(id=1, value=1))
    return revision(uow)


def short_proposals(uow, call_id: str, current_revision: int, evaluators: int) -> list[str]:
    """Proposals under evaluation with fewer active evaluators than they need, not tried
    since the pool last changed (the sweeper's repair list). "Under evaluation" as the
    repair plan reads it (``ProposalState.takes_part``), so that nothing listed here is
    dropped by the plan and listed again at every tick.

    The sweeper asks every second, so the database counts and compares: one grouped count
    of the active assignments joined to the proposals, and only the short ones come back.
    A count per proposal (a correlated subquery) with every proposal's row sent back and
    compared here took 388 to 400 ms a tick at 100,000 proposals on PostgreSQL (88 of it in
    this process), 34 to 42 at 10,000; this form takes 85 to 89 ms at 100,000 (8 to 9 at
    10,000; bench/repair_sweep.py)."""
    active = (sa.select(assignments.c.proposal_id, sa.func.count().label("n"))
              .where(assignments.c.status == "active")
              .group_by(assignments.c.proposal_id).subquery())
    # a target of 0 counts as none, as everywhere the target is read
    needed = sa.func.coalesce(sa.func.nullif(proposals.c.target_evaluators, 0), evaluators)
    rows = uow.session.execute(
        sa.select(proposals.c.proposal_id)
        .select_from(proposals.outerjoin(active,
                                         active.c.proposal_id == proposals.c.proposal_id))
        .join(topics, sa.and_(topics.c.call_id == proposals.c.call_id,
                              topics.c.topic_id == proposals.c.topic_id))
        .where(proposals.c.call_id == call_id, topics.c.assignment_status == "assigned",
               topics.c.ranked_at.is_(None), proposals.c.in_manifest.is_(True),
               proposals.c.screened.is_(True), proposals.c.eligible.is_(True),
               proposals.c.withdrawn_at.is_(None),
               proposals.c.completed_at.is_(None),
               sa.or_(proposals.c.repair_attempt_revision.is_(None),
                      proposals.c.repair_attempt_revision != current_revision),
               sa.func.coalesce(active.c.n, 0) < needed)
        .order_by(proposals.c.proposal_id))
    return [r.proposal_id for r in rows]
