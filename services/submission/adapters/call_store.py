"""Published call versions: stored as their wire form, read back as cached ``Call``s.

A (call id, version) never changes content once stored (loading the same version with
other content is refused), so parsed calls are cached per database for the life of the
process: the submit path reads only the newest version number.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.submission.adapters.tables import calls
from services.submission.domain.call_versions import Published
from services.submission.domain.canonical import sha256_hex
from shared.calls.loader import call_from_wire, call_to_wire
from shared.calls.model import Call

_CACHE: dict[tuple[str, str, int], Published] = {}
_DATABASES: "weakref.WeakKeyDictionary[sa.Engine, str]" = weakref.WeakKeyDictionary()


def _database(session) -> str:
    """Which database a session is on (cache key part: tests run many in one process)."""
    engine = session.get_bind()
    if engine not in _DATABASES:
        _DATABASES[engine] = str(engine.url)
    return _DATABASES[engine]


def wire_and_hash(call: Call) -> tuple[dict, str]:
    """The wire form of ``call`` and the SHA-256 of its canonical JSON: two files that
    differ only in comments or layout have the same hash."""
    document = call_to_wire(call)
    return document, sha256_hex(document)


@dataclass(frozen=True)
class CallVersionRow:
    version: int
    title: str
    content_hash: str
    changes: list
    loaded_at: datetime
    loaded_by: str


class CallStore:
    def __init__(self, session):
        self.session = session
        self._db = _database(session)

    def current_version(self, call_id: str) -> int | None:
        return self.session.execute(sa.select(sa.func.max(calls.c.version)).where(
            calls.c.call_id == call_id)).scalar()

    def get(self, call_id: str, version: int) -> Published | None:
        """The published version (cached after the first read)."""
        key = (self._db, call_id, version)
        if key not in _CACHE:
            row = self.session.execute(sa.select(calls.c.document, calls.c.content_hash).where(
                calls.c.call_id == call_id, calls.c.version == version)).one_or_none()
            if row is None:
                return None
            _CACHE[key] = Published(call_from_wire(row.document), row.content_hash)
        return _CACHE[key]

    def current(self, call_id: str) -> Published | None:
        version = self.current_version(call_id)
        return self.get(call_id, version) if version is not None else None

    def all_current(self) -> list[Published]:
        """The newest version of every call, by call id."""
        rows = self.session.execute(sa.select(calls.c.call_id, sa.func.max(calls.c.version))
                                    .group_by(calls.c.call_id).order_by(calls.c.call_id)).all()
        return [self.get(call_id, version) for call_id, version in rows]

    def history(self, call_id: str) -> list[CallVersionRow]:
        c = calls.c
        return [CallVersionRow(r.version, r.title, r.content_hash, r.changes, r.loaded_at,
                               r.loaded_by)
                for r in self.session.execute(
                    sa.select(c.version, c.title, c.content_hash, c.changes, c.loaded_at,
                              c.loaded_by).where(c.call_id == call_id).order_by(c.version))]

    def source(self, call_id: str, version: int) -> str | None:
        return self.session.execute(sa.select(calls.c.source).where(
            calls.c.call_id == call_id, calls.c.version == version)).scalar()

    def add(self, call: Call, *, document: dict, content_hash: str, source: str,
            changes: list[str], loaded_by: str, now: datetime) -> None:
        self.session.execute(calls.insert().values(
            call_id=call.id, version=call.version, title=call.title,
            content_hash=content_hash, document=document, source=source, changes=changes,
            loaded_at=now, loaded_by=loaded_by))
