"""Requests to a service that may be restarting, retried without being done twice.

Used by the CLI (``grantflow.http``) and the scenario runner (``grantflow.scenario.client``).

- Every state-changing request carries an ``Idempotency-Key`` header: the service answers a
  repeated key with the first response (``shared.web``), so a retry after a lost response
  cannot act twice, and a client can tell "already done" from "refused".
- Connection errors, timeouts and 502/503/504 are retried with exponential backoff until
  ``Backoff.give_up_after`` seconds have passed; then the last error is raised (or the last
  answer returned), so a service that stays down is reported, not waited for forever.
- Keys are random per action unless the caller passes one. A replay that must be resumable
  derives its keys from what the action is (:func:`stable_key`), so running it again
  repeats the same keys and gets the same answers.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import requests

IDEMPOTENCY_HEADER = "Idempotency-Key"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: answers of a service (or its proxy) that is not ready: worth asking again
RETRY_STATUSES = frozenset({502, 503, 504})
#: failures after which the request may or may not have arrived: worth asking again
RETRY_ERRORS = (requests.ConnectionError, requests.Timeout)


@dataclass(frozen=True)
class Backoff:
    first: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    give_up_after: float = 120.0

    def delays(self):
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)


#: for tools a person waits on: a restart takes a few seconds, a dead service is reported
INTERACTIVE = Backoff(give_up_after=30.0)


def new_key() -> str:
    return uuid.uuid4().hex


def stable_key(*parts: object) -> str:
    """A key that is the same whenever the same action is taken again (a resumed replay)."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:40]


def request(session: requests.Session | None, method: str, url: str, *,
            key: str | None = None, backoff: Backoff = Backoff(),
            on_retry: Callable[[str], None] | None = None,
            retry_statuses: frozenset[int] = RETRY_STATUSES, **kwargs) -> requests.Response:
    """``session.request(method, url, **kwargs)`` (plain ``requests`` without a session),
    with an ``Idempotency-Key`` on state-changing methods and retries as described above.
    ``on_retry(reason)`` is told about each wait (a progress line, a log);
    ``retry_statuses``: the answers worth asking again."""
    method = method.upper()
    headers = dict(kwargs.pop("headers", None) or {})
    if method in STATE_CHANGING:
        headers.setdefault(IDEMPOTENCY_HEADER, key or new_key())
    send = session.request if session is not None else requests.request
    deadline = time.monotonic() + backoff.give_up_after
    for delay in backoff.delays():
        try:
            response = send(method, url, headers=headers, **kwargs)
        except RETRY_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise
            reason = f"{type(exc).__name__}"
        else:
            if response.status_code not in retry_statuses or \
                    time.monotonic() + delay > deadline:
                return response
            reason = f"{response.status_code} {response.reason}"
        if on_retry is not None:
            on_retry(f"{method} {url}: {reason}; retrying in {delay:.1f}s")
        time.sleep(delay)
    raise AssertionError("unreachable: Backoff.delays never ends")
