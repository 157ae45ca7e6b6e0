"""The people of a scenario, acting through the services' HTTP APIs.

One small JSON client per (service, role, email); tokens are development tokens signed with
the deployment's secret, exactly what ``grantflow token issue`` prints.

Every request goes through :func:`grantflow.retry.request`: a service that is restarting
(connection refused, 502/503/504) is waited for with backoff, and every state-changing
request carries an ``Idempotency-Key``. The runner passes keys derived from what the action
is (:func:`grantflow.retry.stable_key`), so a retry after a lost answer, and a resumed run
repeating an action, send the same key and get the first answer instead of acting twice.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests

from grantflow.retry import RETRY_STATUSES, Backoff, request
from shared.auth import issue_token

OPERATIONS_EMAIL = "operations@grantflow.example"
#: a replay outlives a service restart (seconds) but reports a service that stays down
REPLAY_BACKOFF = Backoff(first=0.2, factor=2.0, cap=5.0, give_up_after=300.0)
#: a replay also asks again after a 500: a service's database connection can be lost under
#: it ("too many clients", an ended backend); the Idempotency-Key keeps it from acting twice
REPLAY_RETRY_STATUSES = RETRY_STATUSES | {500}


class ApiFailure(RuntimeError):
    def __init__(self, method: str, url: str, status: int, detail):
        super().__init__(f"{method} {url} -> {status}: {str(detail)[:800]}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Answer:
    status: int
    body: object
    replayed: bool = False  # the service answered a repeated Idempotency-Key
    retried: bool = False  # sent more than once: an earlier attempt may have taken effect

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Outages:
    """Says once that a service does not answer, then now and then while it stays down,
    and once when it answers again: a restart during a replay is news, not noise."""

    def __init__(self, say: Callable[[str], None], every: float = 30.0):
        self.say = say
        self.every = every
        self._down: dict[str, tuple[float, float]] = {}  # service -> (since, last said)
        self._lock = threading.Lock()

    def waiting(self, service: str, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            since, said = self._down.get(service, (now, 0.0))
            if said and now - said < self.every:
                return
            self._down[service] = (since, now)
        if said:
            self.say(f"  still waiting for the {service} service ({now - since:.0f}s): {reason}")
        else:
            self.say(f"  the {service} service does not answer ({reason}); waiting for it")

    def answered(self, service: str) -> None:
        with self._lock:
            down = self._down.pop(service, None)
        if down is not None:
            self.say(f"  the {service} service answers again after "
                     f"{time.monotonic() - down[0]:.0f}s")


class People:
    """Clients for everyone; a requests session per thread (sessions are not thread-safe)."""

    def __init__(self, service_urls: dict[str, str], secret: str, *,
                 backoff: Backoff = REPLAY_BACKOFF, outages: Outages | None = None,
                 pool_size: int = 8):
        self.urls = service_urls
        self.secret = secret
        self.backoff = backoff
        self.outages = outages or Outages(lambda line: None)
        self.pool_size = pool_size
        self._tokens: dict[tuple[str, str], str] = {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=8,
                                                    pool_maxsize=self.pool_size)
            session.mount("http://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return self._local.session

    def close(self) -> None:
        """Close the kept-alive connections (a service stops only when its clients left)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def token(self, role: str, email: str) -> str:
        key = (role, email)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.secret, email, role)
        return self._tokens[key]

    def call(self, service: str, method: str, path: str, *, role: str = "operations",
             email: str = OPERATIONS_EMAIL, json=None, params=None,
             key: str | None = None) -> Answer:
        """Any answer; the caller decides what a refusal means. ``key``: the action's
        Idempotency-Key (a fresh one per call without it)."""
        url = self.urls[service].rstrip("/") + path
        retries = []

        def waiting(reason: str) -> None:
            retries.append(reason)
            self.outages.waiting(service, reason)

        response = request(
            self._session(), method, url, key=key, backoff=self.backoff, on_retry=waiting,
            retry_statuses=REPLAY_RETRY_STATUSES,
            json=json, params=params, timeout=120,
            headers={"Authorization": f"Bearer {self.token(role, email)}"})
        self.outages.answered(service)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body,
                      response.headers.get("Idempotent-Replayed") == "true", bool(retries))

    def must(self, service: str, method: str, path: str, **kwargs):
        """The body of a successful answer, or ApiFailure."""
        answer = self.call(service, method, path, **kwargs)
        if not answer.ok:
            raise ApiFailure(method, self.urls[service].rstrip("/") + path, answer.status,
                             answer.body)
        return answer.body
