"""Loading call versions and reading calls, their manifests and their timetable."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.submission.adapters import locks
from services.submission.adapters.call_store import CallStore, wire_and_hash
from services.submission.adapters.repository import ProposalRepository
from services.submission.adapters.tables import closed_topics, fired_milestones
from services.submission.domain.call_versions import decide_load
from services.submission.domain.deadline import utc_iso
from services.submission.domain.eligibility import ensure_known_rules
from services.submission.domain.errors import UnknownRule
from services.submission.domain.timetable import DEADLINE, current_stage
from services.submission.handlers.common import iso, refusals
from shared.calls.diff import diff_calls
from shared.calls.loader import load_call_text
from shared.calls.model import Call, milestones
from shared.calls.schema import InvalidCall
from shared.events import CallPublished
from shared.web import NotFound, Unprocessable


def parse_call(source: str) -> Call:
    """The call in YAML ``source``, or a 422 listing every problem with its path, line and
    rule (and any eligibility rule id this service cannot check)."""
    try:
        call = load_call_text(source)
    except InvalidCall as exc:
        raise Unprocessable(f"the call document has {len(exc.problems)} problem(s)", errors=[
            {"field": p.path or "_document", "rule": p.message, "line": p.line}
            for p in exc.problems], code="invalid_call") from None
    try:
        ensure_known_rules(call)
    except UnknownRule as exc:
        raise Unprocessable(str(exc), errors=[{"field": "eligibility", "rule": str(exc),
                                               "line": None}], code="invalid_call") from None
    return call


def _deadline_closed(session, call_id: str) -> bool:
    closed = session.execute(sa.select(sa.func.count()).select_from(closed_topics).where(
        closed_topics.c.call_id == call_id)).scalar()
    fired = session.execute(sa.select(sa.func.count()).select_from(fired_milestones).where(
        fired_milestones.c.call_id == call_id,
        fired_milestones.c.milestone == DEADLINE)).scalar()
    return bool(closed or fired)


def load_call(uow, principal, source: str, now: datetime) -> tuple[int, dict]:
    """Publish a call version (201), or nothing if this exact version is already
    published (200). An amendment records its changes and is announced to the contacts
    of every proposal on the call that is not withdrawn."""
    call = parse_call(source)
    document, content_hash = wire_and_hash(call)
    with uow:
        locks.call_exclusive(uow.session, call.id)  # against a tick closing the deadline
        store, repo = CallStore(uow.session), ProposalRepository(uow.session)
        current = store.current(call.id)
        with refusals():
            publish = decide_load(
                call, content_hash, current,
                deadline_closed=current is not None and _deadline_closed(uow.session, call.id),
                topics_in_use=repo.topics_in_use(call.id) if current else ())
        if not publish:
            return 200, _loaded(call, content_hash, "unchanged", [], 0)
        changes = diff_calls(current.call, call) if current else []
        notify = repo.contacts_of_call(call.id) if current else []
        store.add(call, document=document, content_hash=content_hash, source=source,
                  changes=changes, loaded_by=principal.email, now=now)
        uow.add_events(CallPublished(
            call_id=call.id, correlation_id=call.id, occurred_at=now, version=call.version,
            title=call.title, call=document, changes=changes, notify_emails=notify))
        uow.commit()
    return 201, _loaded(call, content_hash, "published", changes, len(notify))


def _loaded(call: Call, content_hash: str, status: str, changes: list, notified: int) -> dict:
    return {"call_id": call.id, "version": call.version, "status": status,
            "content_hash": content_hash, "changes": changes, "notified": notified}


# ----------------------------------------------------------------------- queries
def _closed(session, call_id: str) -> dict:
    rows = session.execute(sa.select(closed_topics).where(closed_topics.c.call_id == call_id))
    return {row.topic_id: row for row in rows}


def _summary(call: Call, closed: dict) -> dict:
    return {"id": call.id, "call_id": call.id, "version": call.version, "title": call.title,
            "timezone": call.timezone, "deadline_utc": utc_iso(call.deadline),
            "deadline_local": call.local(call.deadline).isoformat(),
            "topics": [{"id": t.id, "title": t.title, "budget": str(t.budget),
                        "closed": t.id in closed,
                        "manifest_hash": closed[t.id].manifest_hash if t.id in closed else None}
                       for t in call.topics]}


def list_calls(uow) -> list[dict]:
    with uow:
        return [_summary(p.call, _closed(uow.session, p.call.id))
                for p in CallStore(uow.session).all_current()]


def _published(store: CallStore, call_id: str, version: int | None = None):
    published = store.get(call_id, version) if version is not None else store.current(call_id)
    if published is None:
        what = f"version {version} of call {call_id}" if version else f"call {call_id}"
        raise NotFound(f"no {what} is published", code="call_not_found")
    return published


def get_call(uow, call_id: str, version: int | None = None) -> dict:
    """A published version (the newest by default) in its wire form, with the history
    of versions and the state of each topic."""
    with uow:
        store = CallStore(uow.session)
        published = _published(store, call_id, version)
        history = [{"version": h.version, "title": h.title, "content_hash": h.content_hash,
                    "changes": h.changes, "loaded_at": iso(h.loaded_at),
                    "loaded_by": h.loaded_by} for h in store.history(call_id)]
        return {**_summary(published.call, _closed(uow.session, call_id)),
                "content_hash": published.content_hash,
                "call": wire_and_hash(published.call)[0], "versions": history}


def manifest(uow, call_id: str, topic_id: str) -> dict:
    """The closing manifest of a topic, as published in ``deadline_closed``."""
    with uow:
        row = _closed(uow.session, call_id).get(topic_id)
        if row is None:
            _published(CallStore(uow.session), call_id)
            raise NotFound(f"topic {topic_id} of call {call_id} has not closed (no manifest yet)",
                           code="manifest_not_found")
        return {"call_id": call_id, "topic_id": topic_id, "call_version": row.call_version,
                "deadline": iso(row.deadline), "closed_at": iso(row.closed_at),
                "manifest": row.manifest, "manifest_hash": row.manifest_hash,
                "screened": row.screened_at is not None}


def call_timetable(uow, call_id: str, now: datetime) -> dict:
    """Each milestone of the newest version: its instant in UTC and in the call's zone,
    whether it is due and whether it fired; and the current stage."""
    with uow:
        call = _published(CallStore(uow.session), call_id).call
        fired = {row.milestone: row for row in uow.session.execute(
            sa.select(fired_milestones).where(fired_milestones.c.call_id == call_id))}
    stage = current_stage(call, now)
    return {"call_id": call.id, "call_version": call.version, "timezone": call.timezone,
            "now": utc_iso(now), "current_stage": stage.key if stage else None,
            "milestones": [{"key": m.key, "label": m.label, "stage": m.stage,
                            "at": utc_iso(m.at), "at_local": call.local(m.at).isoformat(),
                            "due": m.at <= now, "fired": m.key in fired,
                            "fired_at": iso(fired[m.key].fired_at) if m.key in fired else None,
                            "fired_with_version": fired[m.key].call_version
                            if m.key in fired else None}
                           for m in milestones(call)]}
