"""The people of a scenario, acting through the services' HTTP APIs.

One small JSON client per (service, role, email); tokens are development tokens signed with
the deployment's secret, exactly what ``grantflow token issue`` prints.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from shared.auth import issue_token

OPERATIONS_EMAIL = "operations@grantflow.example"


class ApiFailure(RuntimeError):
    def __init__(self, method: str, url: str, status: int, detail):
        super().__init__(f"{method} {url} -> {status}: {str(detail)[:800]}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Answer:
    status: int
    body: object

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class People:
    """Clients for everyone; a requests session per thread (sessions are not thread-safe)."""

    def __init__(self, service_urls: dict[str, str], secret: str):
        self.urls = service_urls
        self.secret = secret
        self._tokens: dict[tuple[str, str], str] = {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._sessions.append(self._local.session)
        return self._local.session

    def close(self) -> None:
        """Close the kept-alive connections (a service stops only when its clients left)."""
        for session in self._sessions:
            session.close()
        self._sessions.clear()

    def token(self, role: str, email: str) -> str:
        key = (role, email)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.secret, email, role)
        return self._tokens[key]

    def call(self, service: str, method: str, path: str, *, role: str = "operations",
             email: str = OPERATIONS_EMAIL, json=None, params=None) -> Answer:
        """Any answer; the caller decides what a refusal means."""
        url = self.urls[service].rstrip("/") + path
        response = self._session().request(
            method, url, json=json, params=params, timeout=120,
            headers={"Authorization": f"Bearer {self.token(role, email)}"})
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    def must(self, service: str, method: str, path: str, **kwargs):
        """The body of a successful answer, or ApiFailure."""
        answer = self.call(service, method, path, **kwargs)
        if not answer.ok:
            raise ApiFailure(method, self.urls[service].rstrip("/") + path, answer.status,
                             answer.body)
        return answer.body
