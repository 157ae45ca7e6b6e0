"""``Idempotency-Key`` for every state-changing HTTP request (IETF httpapi
idempotency-key draft; Stripe's API).

A client that sends the same key again (same principal) gets:

* the first response (status and body) with ``Idempotent-Replayed: true`` when the method,
  path, query and body are the same;
* 422 ``idempotency_key_reused`` when they differ;
* 409 ``idempotency_key_in_progress`` while the first request with the key is still running.

Exactly once under crashes: the key is written *in the command's own transaction*. The
HTTP entrypoint hands :meth:`Claim.record_applied` to the worker's unit of work (through
the worker context, :data:`BEFORE_COMMIT`), which calls it just before it commits. So
either the command's state change and the key commit together, or neither does; a retry
after a crash between that commit and the response never runs the command again. The
response itself is stored right after it is built; in the rare crash inside that window
the retry answers 200 with ``"outcome": "applied"`` (the command was applied, its original
response was lost) instead of running it a second time.

While a request runs, its key is locked: a PostgreSQL advisory lock held by an open
transaction (released by the server when the process dies, so no lease to wait out), or on
SQLite (one process per service) a lock in the process. Keys and responses expire after
``IDEMPOTENCY.ttl_hours`` of the wall clock (default 7 days); expired rows are removed as
new keys come in.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from shared.config import DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE
from shared.db.engine import checked_on_checkout
from shared.db.types import UtcDateTime

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the worker-context key under which the unit of work finds the before-commit hook
BEFORE_COMMIT = "grantflow.before_commit"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:+/=\-]{1,255}$")
KEY_RULE = "1 to 255 characters: letters, digits and . _ : + / = -"
DEFAULT_TTL = timedelta(days=7)

metadata = sa.MetaData()
idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("principal", sa.String(330), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(2000), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # applied | done
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("content_type", sa.String(200), nullable=True),
    sa.Column("body", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_idempotency_keys_expires_at", idempotency_keys.c.expires_at)

# Every state-changing request runs these: built once with bind parameters rather than at
# each request (building Core statements and their cache keys at each call was about a
# third of the CPU of evaluation's report handler: bench/report_writes.py).
_THIS_KEY = (idempotency_keys.c.principal == sa.bindparam("key_principal"),
             idempotency_keys.c.key == sa.bindparam("key_key"))
_LOOKUP = sa.select(idempotency_keys).where(*_THIS_KEY)
_FORGET = idempotency_keys.delete().where(*_THIS_KEY)
_FORGET_EXPIRED = idempotency_keys.delete().where(
    idempotency_keys.c.expires_at < sa.bindparam("now", type_=UtcDateTime()))
_INSERT = idempotency_keys.insert()
_DONE = idempotency_keys.update().where(*_THIS_KEY)  # sets the columns its parameters name
_TRY_LOCK = sa.select(sa.func.pg_try_advisory_xact_lock(
    sa.bindparam("number", type_=sa.BigInteger())))


def create_table(op) -> None:
    """For each service's migration (spelled out, so the revision keeps creating this
    version of the table)."""
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(330), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


class KeyInvalid(ValueError):
    pass


class KeyInProgress(Exception):
    pass


class KeyReused(Exception):
    pass


@dataclass(frozen=True)
class Stored:
    """A response to give again: status, content type, body (``None``: applied, lost)."""

    status: int
    content_type: str | None
    body: bytes | None


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def valid_key(value: str) -> str:
    if not KEY_PATTERN.match(value or ""):
        raise KeyInvalid(KEY_RULE)
    return value


@dataclass
class Claim:
    """One request's hold on its key, from :meth:`Store.claim` to :meth:`finish`."""

    store: "Store"
    principal: str
    key: str
    method: str
    path: str
    fingerprint: str
    replay: Stored | None = None
    applied: bool = False
    _connection: object = None  # PostgreSQL: the transaction holding the advisory lock
    _local: bool = False
    _finished: bool = field(default=False, repr=False)

    # ---------------------------------------------------------------- in the command's uow
    def record_applied(self, session) -> None:
        """Before-commit hook: write the key in the command's transaction (once)."""
        if self.applied:
            return
        session.execute(_INSERT, self._new_row(state="applied"))
        self.applied = True

    # ---------------------------------------------------------------- after the response
    def finish(self, status: int, content_type: str | None, body: bytes) -> None:
        """Keep the response for replays and let go of the key. A server error before
        anything was committed is not kept: a retry may try again."""
        try:
            if status < 500:
                self._write(status, content_type, body)
        finally:
            self.release()

    def release(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._connection is not None:
            try:
                self._connection.commit()  # ends the transaction: the advisory lock goes
            finally:
                self._connection.close()
        if self._local:
            self.store.unlock_local((self.principal, self.key))

    def _write(self, status: int, content_type: str | None, body: bytes) -> None:
        done = {"state": "done", "status": status, "content_type": content_type, "body": body}
        with self.store.writer(self._connection) as conn:
            if self.applied:
                conn.execute(_DONE, {**self._key_params(), **done})
            else:
                conn.execute(_INSERT, self._new_row(**done))

    def _key_params(self) -> dict:
        """The bind parameters of this key's row."""
        return {"key_principal": self.principal, "key_key": self.key}

    def _new_row(self, **state) -> dict:
        now = self.store.now()
        return {"principal": self.principal, "key": self.key, "fingerprint": self.fingerprint,
                "method": self.method, "path": self.path[:2000], "created_at": now,
                "expires_at": now + self.store.ttl, **state}


class Store:
    """The keys of one service, in its own database (``engine``)."""

    def __init__(self, engine, ttl: timedelta = DEFAULT_TTL, now=None,
                 pool_size: int = DEFAULT_DB_POOL_SIZE,
                 max_overflow: int = DEFAULT_DB_MAX_OVERFLOW):
        self.engine = engine
        self.ttl = ttl
        self.now = now or (lambda: datetime.now(timezone.utc))
        self._postgres = engine.dialect.name == "postgresql"
        # the connections holding the keys' locks come from a pool of their own: taken from
        # the service's pool, requests waiting for a second connection while holding one
        # could exhaust it and wait on each other. One per request in flight, sized like
        # the service's pool; further requests wait for one (up to 60 s). SQLAlchemy
        # closes an overflow connection when it is returned: with one kept, as this pool
        # had, nearly every concurrent request connected anew (a PostgreSQL backend
        # started and ended per request).
        self._lock_engine = checked_on_checkout(sa.create_engine(
            engine.url, pool_size=max(1, pool_size), max_overflow=max(0, max_overflow),
            pool_timeout=60, pool_recycle=300)) if self._postgres else None
        self._held: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._claims = 0

    def claim(self, principal: str, key: str, method: str, path: str, body: bytes) -> Claim:
        """Lock ``key`` for this request and say whether it has an answer already
        (``claim.replay``). Raises :class:`KeyInProgress` or :class:`KeyReused`."""
        claim = Claim(self, principal, key, method, path, fingerprint(method, path, body))
        if self._postgres:
            claim._connection = self._advisory_lock(principal, key)
        else:
            self._lock_local((principal, key))
            claim._local = True
        try:
            claim.replay = self._lookup(claim)
        except BaseException:
            claim.release()
            raise
        return claim

    def _advisory_lock(self, principal: str, key: str):
        number = int.from_bytes(hashlib.sha256(f"{principal}\x1f{key}".encode()).digest()[:8],
                                "big", signed=True)
        connection = self._lock_engine.connect()
        try:
            taken = connection.execute(_TRY_LOCK, {"number": number}).scalar()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.rollback()
            connection.close()
            raise KeyInProgress(key)
        return connection

    def _lock_local(self, held: tuple[str, str]) -> None:
        with self._guard:
            if held in self._held:
                raise KeyInProgress(held[1])
            self._held.add(held)

    def unlock_local(self, held: tuple[str, str]) -> None:
        with self._guard:
            self._held.discard(held)

    def _lookup(self, claim: Claim) -> Stored | None:
        now = self.now()
        self._claims += 1
        # deletes run in a transaction of their own: one holding a deleted row's lock until
        # the request ends would block the command's insert of the same key
        if self._claims % 100 == 1:  # now and then: forget expired keys
            with self.engine.begin() as conn:
                conn.execute(_FORGET_EXPIRED, {"now": now})
        with self.writer(claim._connection) as conn:
            row = conn.execute(_LOOKUP, claim._key_params()).first()
        if row is not None and row.expires_at < now:
            with self.engine.begin() as conn:
                conn.execute(_FORGET, claim._key_params())
            row = None
        if row is None:
            return None
        if row.fingerprint != claim.fingerprint:
            raise KeyReused(claim.key)
        if row.state == "applied":
            return Stored(200, None, None)
        return Stored(row.status, row.content_type, row.body)

    def writer(self, connection):
        """A context giving a connection: the lock's own transaction (PostgreSQL, committed
        with the lock's release) or a short transaction of its own (SQLite)."""
        if connection is not None:
            return _Borrowed(connection)
        return self.engine.begin()


class _Borrowed:
    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc):
        return False


def lost_response_body(key: str) -> bytes:
    return json.dumps({
        "outcome": "applied", "idempotency_key": key,
        "message": "this request was applied; its response was lost when the service "
                   "stopped. Read the resource to see its state."}).encode()
