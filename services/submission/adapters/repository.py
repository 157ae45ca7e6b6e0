"""Loading and saving Proposal aggregates (SQLAlchemy Core over ``tables``).

Loads are shaped for their use so no path is N+1: a command on one proposal reads the
row, the one version it needs and the call/topic facts in a single query; closing a
topic reads its proposals and all their versions in two queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.submission.adapters.serialization import (content_from_json, content_to_json,
                                                        contacts_of, screening_from_json,
                                                        screening_to_json)
from services.submission.adapters.tables import (calls, closed_topics, parts,
                                                 proposal_contacts, proposal_versions,
                                                 proposals, rankings)
from services.submission.domain.proposal import Proposal, Rival, State, Version, project_key
from shared.db.inserts import insert_all_ignoring_duplicates

_LIVE = (State.SUBMITTED.value, State.FROZEN.value)


@dataclass(frozen=True)
class CommandContext:
    """What a command on one proposal needs besides the aggregate, read with it."""

    call_version: int | None  # the newest published version of the proposal's call
    topic_closed: bool
    ranking_published: bool
    created_by: str


@dataclass
class _Loaded:
    """What was read (or last written), so a save writes only what changed."""

    versions: int
    contacts: set[str]
    content: object = None  # the ProposalContent as loaded (compared by identity)
    content_json: dict | None = None
    screening: object = None


def _version(row, prefix: str = "") -> Version:
    return Version(getattr(row, f"{prefix}version"), content_from_json(
        getattr(row, f"{prefix}content")), getattr(row, f"{prefix}content_hash"),
        getattr(row, f"{prefix}received_at"))


# Statements built once: a command runs a handful of them, and building a select with
# its subqueries costs more than running it.
_P, _V = proposals, proposal_versions.alias("v")
_GET = sa.select(
    _P, _V.c.version.label("v_version"), _V.c.content.label("v_content"),
    _V.c.content_hash.label("v_content_hash"), _V.c.received_at.label("v_received_at"),
    sa.select(sa.func.max(calls.c.version)).where(calls.c.call_id == _P.c.call_id)
    .scalar_subquery().label("call_version"),
    sa.exists().where(closed_topics.c.call_id == _P.c.call_id,
                      closed_topics.c.topic_id == _P.c.topic_id).label("topic_closed"),
    sa.exists().where(rankings.c.call_id == _P.c.call_id,
                      rankings.c.topic_id == _P.c.topic_id).label("ranked"),
).select_from(_P.outerjoin(_V, sa.and_(
    _V.c.proposal_id == _P.c.id,
    _V.c.version == sa.func.coalesce(_P.c.frozen_version, _P.c.latest_version)))
).where(_P.c.id == sa.bindparam("pid"))
_GET_FOR_UPDATE = _GET.with_for_update(of=_P)
_UPDATE = proposals.update().where(proposals.c.id == sa.bindparam("pid_"))
_SAVE_SCREENING = proposals.update().where(proposals.c.id == sa.bindparam("pid_")).values(
    screening=sa.bindparam("screening_"), screened_at=sa.bindparam("now_"),
    updated_at=sa.bindparam("now_"))
_SAVE_FROZEN = proposals.update().where(proposals.c.id == sa.bindparam("pid_")).values(
    state=sa.bindparam("state_"), frozen_version=sa.bindparam("frozen_"),
    updated_at=sa.bindparam("now_"))
_INSERT_VERSIONS = proposal_versions.insert()
_INSERT_PROPOSAL = proposals.insert()
_INSERT_CONTACTS = proposal_contacts.insert()
_EXISTS = sa.select(proposals.c.id).where(proposals.c.id == sa.bindparam("pid"))
_LOCK_PART = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))


def _with_frozen_version(v):
    """Proposals joined to their frozen version (alias ``v`` of proposal_versions)."""
    return proposals.join(v, sa.and_(v.c.proposal_id == proposals.c.id,
                                     v.c.version == proposals.c.frozen_version))


class ProposalRepository:
    """One per unit of work (``ProposalRepository(uow.session)``); remembers what it
    loaded so :meth:`save` writes only what changed."""

    def __init__(self, session):
        self.session = session
        self._loaded: dict[str, _Loaded] = {}

    # ------------------------------------------------------------------ loading
    def get(self, proposal_id: str, *, lock: bool = False
            ) -> tuple[Proposal, CommandContext] | None:
        """The proposal with the one version commands need (the frozen one once frozen,
        else the latest), and its :class:`CommandContext`; None if unknown."""
        row = self.session.execute(_GET_FOR_UPDATE if lock else _GET,
                                   {"pid": proposal_id}).one_or_none()
        if row is None:
            return None
        versions = (_version(row, "v_"),) if row.v_version is not None else ()
        proposal = self._build(row, versions)
        return proposal, CommandContext(row.call_version, bool(row.topic_closed),
                                        bool(row.ranked), row.created_by)

    def exists(self, proposal_id: str) -> bool:
        return self.session.execute(_EXISTS, {"pid": proposal_id}).first() is not None

    def lock_topic(self, call_id: str, topic_id: str) -> None:
        """Lock every row of the topic, drafts included, so the submissions in flight
        commit before anything is read (see ``adapters/locks.py``)."""
        self.session.execute(sa.select(proposals.c.id).where(
            proposals.c.call_id == call_id, proposals.c.topic_id == topic_id)
            .order_by(proposals.c.id).with_for_update()).all()

    def for_topic(self, call_id: str, topic_id: str, *, after: str = "",
                  limit: int) -> list[Proposal]:
        """Submitted and frozen proposals of a topic with all their versions (what
        freezing reads), in id order from the first id past ``after``, at most ``limit``
        (closing reads a topic page by page)."""
        rows = self.session.execute(sa.select(proposals).where(
            proposals.c.call_id == call_id, proposals.c.topic_id == topic_id,
            proposals.c.id > after, proposals.c.state.in_(_LIVE))
            .order_by(proposals.c.id).limit(limit)).all()
        versions: dict[str, list[Version]] = {row.id: [] for row in rows}
        latest_json: dict[str, object] = {}  # each one's last version, as stored
        if rows:
            for row in self.session.execute(
                    sa.select(proposal_versions)
                    .where(proposal_versions.c.proposal_id.in_(list(versions)))
                    .order_by(proposal_versions.c.proposal_id, proposal_versions.c.version)):
                versions[row.proposal_id].append(_version(row))
                latest_json[row.proposal_id] = row.content
        return [self._build(row, tuple(versions[row.id]), latest_json.get(row.id))
                for row in rows]

    def unscreened_of_topic(self, call_id: str, topic_id: str, *, after: str = "",
                            limit: int) -> list[Proposal]:
        """The topic's frozen proposals not screened yet, with their frozen version,
        ``limit`` of them in id order from the first id past ``after`` (screening reads a
        topic page by page, and a topic screened over several ticks goes on where the last
        stopped without loading again what it screened)."""
        return self._frozen(proposals.c.call_id == call_id, proposals.c.topic_id == topic_id,
                            proposals.c.id > after, proposals.c.screening.is_(None),
                            limit=limit)

    def _frozen(self, *where, limit: int) -> list[Proposal]:
        v = proposal_versions.alias("v")
        query = sa.select(
            proposals, v.c.version.label("v_version"), v.c.content.label("v_content"),
            v.c.content_hash.label("v_content_hash"), v.c.received_at.label("v_received_at"),
        ).select_from(_with_frozen_version(v)).where(
            *where, proposals.c.state == State.FROZEN.value
        ).order_by(proposals.c.id).limit(limit)
        return [self._build(row, (_version(row, "v_"),)) for row in self.session.execute(query)]

    def rivals_of_call(self, call_id: str) -> list[Rival]:
        """Every frozen proposal of the call as ``single_topic`` compares it (a proposal
        is judged against the others of the call): two fields of each frozen version,
        from their own columns (from the content's JSON only for a version stored before
        those columns)."""
        v = proposal_versions.alias("v")
        query = sa.select(
            proposals.c.id, proposals.c.topic_id,
            sa.func.coalesce(v.c.coordinator_organisation_id,
                             v.c.content[("coordinator", "organisation_id")].as_string()),
            sa.func.coalesce(v.c.acronym, v.c.content["acronym"].as_string()),
        ).select_from(_with_frozen_version(v)).where(
            proposals.c.call_id == call_id, proposals.c.state == State.FROZEN.value)
        return [Rival(proposal_id, call_id, topic_id, project_key(organisation, acronym))
                for proposal_id, topic_id, organisation, acronym in self.session.execute(query)]

    def _build(self, row, versions: tuple[Version, ...], shown_json=None) -> Proposal:
        """``shown_json``: the last version's content as stored (else the row's
        ``v_content``)."""
        frozen = next((v for v in versions if v.number == row.frozen_version), None)
        shown = versions[-1] if versions else None
        # a working copy as submitted is the same value as its version: parse it once,
        # and the one object tells saving that the copy did not change when it is frozen
        if shown_json is None:
            shown_json = getattr(row, "v_content", None)
        content = shown.content if shown is not None and row.content == shown_json \
            else content_from_json(row.content)
        proposal = Proposal(row.id, row.call_id, row.topic_id, content, State(row.state),
                            versions, frozen, row.withdrawn_at)
        if row.screening is not None:
            proposal.screening = screening_from_json(row.screening)
        self._loaded[row.id] = _Loaded(row.latest_version, contacts_of(row.content), content,
                                       row.content, proposal.screening)
        return proposal

    # ------------------------------------------------------------------ saving
    def add(self, proposal: Proposal, *, created_by: str, now: datetime) -> None:
        content = content_to_json(proposal.content)
        self.session.execute(_INSERT_PROPOSAL, dict(
            id=proposal.id, call_id=proposal.call_id, topic_id=proposal.topic_id,
            state=proposal.state.value, content=content, latest_version=0,
            created_by=created_by.lower(), created_at=now, updated_at=now))
        if proposal.versions or proposal.screening is not None:  # not a fresh draft
            self._loaded[proposal.id] = _Loaded(0, set(), proposal.content, content)
            self.save(proposal, now=now)
            return
        # a fresh draft: the row as inserted is complete, only its contacts are missing
        # (two statements instead of insert, update, delete and insert)
        contacts = contacts_of(content)
        if contacts:
            self.session.execute(_INSERT_CONTACTS, [
                {"proposal_id": proposal.id, "email": email} for email in sorted(contacts)])
        self._loaded[proposal.id] = _Loaded(0, contacts, proposal.content, content)

    def save(self, proposal: Proposal, *, now: datetime,
             withdraw_reason: str | None = None) -> None:
        """Write the aggregate's state, what changed of its content and screening, its
        new versions and (if changed) its contacts."""
        loaded = self._loaded[proposal.id]
        latest = proposal.latest_version
        values = dict(state=proposal.state.value,
                      latest_version=max(loaded.versions, latest.number if latest else 0),
                      frozen_version=proposal.frozen_version.number
                      if proposal.frozen_version else None,
                      withdrawn_at=proposal.withdrawn_at, updated_at=now)
        content = loaded.content_json
        if proposal.content is not loaded.content:
            values["content"] = content = content_to_json(proposal.content)
        if withdraw_reason is not None:
            values["withdraw_reason"] = withdraw_reason
        if proposal.screening is not loaded.screening:
            values.update(screening=screening_to_json(proposal.screening), screened_at=now)
        self.session.execute(_UPDATE, {"pid_": proposal.id, **values})
        new = [v for v in proposal.versions if v.number > loaded.versions]
        if new:
            self.session.execute(_INSERT_VERSIONS, [
                {"proposal_id": proposal.id, "version": v.number,
                 "content_hash": v.content_hash, "received_at": v.received_at,
                 "content": content if v.content is proposal.content
                 else content_to_json(v.content),
                 "coordinator_organisation_id": v.content.coordinator.organisation_id,
                 "acronym": v.content.acronym} for v in new])
        contacts = contacts_of(content) if "content" in values or not loaded.contacts \
            else loaded.contacts
        if contacts != loaded.contacts:
            self.session.execute(proposal_contacts.delete().where(
                proposal_contacts.c.proposal_id == proposal.id))
            self.session.execute(_INSERT_CONTACTS, [
                {"proposal_id": proposal.id, "email": email} for email in sorted(contacts)])
        if loaded.content is not None and proposal.content is not loaded.content:
            self._forget_parts({p.sha256 for p in loaded.content.parts}
                               - {p.sha256 for p in proposal.content.parts})
        self._loaded[proposal.id] = _Loaded(values["latest_version"], contacts,
                                            proposal.content, content, proposal.screening)

    def save_frozen(self, frozen: list[Proposal], *, now: datetime) -> None:
        """Write many proposals a topic's closing froze. One whose working copy was its
        frozen version already (nearly all) changed only its state and frozen version:
        those go in one executemany; one with edits it never submitted (freezing set its
        copy back to the version) is saved whole, content and contacts with it."""
        whole = [p for p in frozen if p.content is not self._loaded[p.id].content]
        plain = [p for p in frozen if p.content is self._loaded[p.id].content]
        if plain:
            self.session.execute(_SAVE_FROZEN, [
                {"pid_": p.id, "state_": p.state.value,
                 "frozen_": p.frozen_version.number, "now_": now} for p in plain])
        for proposal in whole:
            self.save(proposal, now=now)

    def save_screenings(self, screened: list[Proposal], *, now: datetime) -> None:
        """Write the screening of many frozen proposals (the deadline screens a topic at
        once) in one executemany; screening changes nothing else of them."""
        if not screened:
            return
        self.session.execute(_SAVE_SCREENING, [
            {"pid_": p.id, "screening_": screening_to_json(p.screening), "now_": now}
            for p in screened])
        for proposal in screened:
            self._loaded[proposal.id].screening = proposal.screening

    # ------------------------------------------------------------------ queries
    def versions(self, proposal_id: str) -> list[dict]:
        """Every version's number, content hash and receipt time (no content)."""
        v = proposal_versions.c
        return [{"version": r.version, "content_hash": r.content_hash,
                 "received_at": r.received_at}
                for r in self.session.execute(
                    sa.select(v.version, v.content_hash, v.received_at)
                    .where(v.proposal_id == proposal_id).order_by(v.version))]

    def version(self, proposal_id: str, number: int) -> Version | None:
        row = self.session.execute(sa.select(proposal_versions).where(
            proposal_versions.c.proposal_id == proposal_id,
            proposal_versions.c.version == number)).one_or_none()
        return _version(row) if row is not None else None

    def summaries(self, *, contact: str | None = None, call_id: str | None = None,
                  topic_id: str | None = None, state: str | None = None,
                  limit: int = 100, offset: int = 0, after: str | None = None) -> list:
        """Proposal rows for listings (``contact``: only those they are a contact of), in
        creation order; ``after`` a proposal id, the rows that come after it in that
        order (none if there is no such proposal, or none the contact may see: a page
        tells nothing of others' proposals)."""
        query = sa.select(proposals.c.id, proposals.c.call_id, proposals.c.topic_id,
                          proposals.c.state, proposals.c.content, proposals.c.latest_version,
                          proposals.c.frozen_version, proposals.c.updated_at)
        if contact is not None:
            query = query.join(proposal_contacts, sa.and_(
                proposal_contacts.c.proposal_id == proposals.c.id,
                proposal_contacts.c.email == contact.lower()))
        for column, value in ((proposals.c.call_id, call_id),
                              (proposals.c.topic_id, topic_id), (proposals.c.state, state)):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            # aliases: the listing's own tables would be correlated into the subquery
            mark, its_contact = proposals.alias("mark"), proposal_contacts.alias("mark_contact")
            cursor = sa.select(mark.c.created_at).where(mark.c.id == after)
            if contact is not None:
                cursor = cursor.where(sa.exists().where(
                    its_contact.c.proposal_id == after, its_contact.c.email == contact.lower()))
            created = cursor.scalar_subquery()
            query = query.where(sa.tuple_(proposals.c.created_at, proposals.c.id)
                                > sa.tuple_(created, after))
        return self.session.execute(query.order_by(proposals.c.created_at, proposals.c.id)
                                    .limit(limit).offset(offset)).all()

    def contacts_of_call(self, call_id: str) -> list[str]:
        """Contacts of every proposal on the call that is not withdrawn, sorted."""
        query = (sa.select(proposal_contacts.c.email).distinct()
                 .join(proposals, proposals.c.id == proposal_contacts.c.proposal_id)
                 .where(proposals.c.call_id == call_id,
                        proposals.c.state != State.WITHDRAWN.value)
                 .order_by(proposal_contacts.c.email))
        return list(self.session.execute(query).scalars())

    def topics_in_use(self, call_id: str) -> set[str]:
        """Topics of the call with proposals that are not withdrawn."""
        return set(self.session.execute(
            sa.select(proposals.c.topic_id).distinct().where(
                proposals.c.call_id == call_id,
                proposals.c.state != State.WITHDRAWN.value)).scalars())

    # ------------------------------------------------------------------ part bytes
    def store_parts(self, blobs: dict[str, bytes], now: datetime) -> None:
        """Keep each part's bytes by their SHA-256 (once, however many drafts share them),
        in one statement, each hash locked first (see :meth:`_lock_part`)."""
        if blobs:
            for sha256 in sorted(blobs):
                self._lock_part(sha256)
            insert_all_ignoring_duplicates(self.session, parts, [
                {"sha256": sha256, "size": len(data), "data": data, "stored_at": now}
                for sha256, data in sorted(blobs.items())])

    def _forget_parts(self, removed: set[str]) -> None:
        """Delete the bytes of parts the working copy let go of, unless a working copy or
        a submitted version (of any proposal: parts are shared by content) still refers
        to them. Parts are kept for every version, so only never-submitted bytes go."""
        for sha256 in sorted(removed):
            self._lock_part(sha256)
            used = self.session.execute(sa.select(
                sa.exists().where(sa.cast(proposals.c.content, sa.Text).contains(sha256))
                | sa.exists().where(sa.cast(proposal_versions.c.content, sa.Text)
                                    .contains(sha256)))).scalar()
            if not used:
                self.session.execute(parts.delete().where(parts.c.sha256 == sha256))

    def _lock_part(self, sha256: str) -> None:
        """Storing and forgetting the same bytes take turns (PostgreSQL: a transaction lock
        on the hash), so bytes a concurrent upload now refers to are never deleted: the
        reference check runs after the other transaction committed. SQLite runs one
        transaction at a time anyway."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(_LOCK_PART, {"key": int(sha256[:15], 16)})

    def part_bytes(self, sha256: str) -> bytes | None:
        return self.session.execute(sa.select(parts.c.data).where(
            parts.c.sha256 == sha256)).scalar()
