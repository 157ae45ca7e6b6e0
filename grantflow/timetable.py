"""Drive a call's timetable on the simulated clock: stage by stage, never skipping one.

``advance_to(target)`` moves the shared clock to each timetable milestone between now and
the target in order; at each one it asks the submission service (owner of calls and their
timetable) to fire what is due and waits until the pipeline has settled before moving on,
so every stage's events and everything they cause happen at that stage's instant.

A service that restarts meanwhile is waited for (:mod:`grantflow.retry`: connection errors
and 502/503/504 retried with backoff), and the wait names it; one that stays down past the
backoff's limit is reported as the ``requests`` error it gives. Every step is safe to repeat:
a milestone fires once however often it is ticked, so an interrupted advance is continued by
advancing again.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import requests

from grantflow.retry import RETRY_STATUSES, Backoff, request
from grantflow.settle import Waiting, wait_until_settled
from shared.clock import SimulatedClock


MAX_TICK_ROUNDS = 10
#: a restart takes seconds; a service down for minutes is reported, not waited for forever
DRIVER_BACKOFF = Backoff(first=0.2, factor=2.0, cap=5.0, give_up_after=300.0)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Milestone:
    call_id: str
    key: str
    label: str
    at: datetime
    fired: bool


@dataclass
class Step:
    at: datetime
    fired: list
    settle_seconds: float
    seconds: float = 0.0  # from moving the clock to settled


def deadline_progress(pending: dict) -> str:
    """How far a deadline a tick left pending is, in words (the driver, ``call tick``)."""
    return (f"{pending['closed']} of {pending['topics']} topic(s) closed, "
            f"{pending['screened']} screened")


class TimetableDriver:
    def __init__(self, clock: SimulatedClock, submission_url: str, token: str, amqp_uri: str,
                 service_urls: dict[str, str], retry_delays_ms=(), *,
                 say: Callable[[str], None] = _stderr, backoff: Backoff = DRIVER_BACKOFF,
                 stall_timeout: float = 300.0):
        self.clock = clock
        self.submission_url = submission_url.rstrip("/")
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.amqp_uri = amqp_uri
        self.service_urls = service_urls
        self.retry_delays_ms = retry_delays_ms
        self.say = say
        self.backoff = backoff
        self.stall_timeout = stall_timeout
        self.waiting = Waiting(say)
        self._names = {url.rstrip("/"): name for name, url in service_urls.items()}

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, url: str, timeout: float = 300) -> requests.Response:
        base = "/".join(url.split("/", 3)[:3])
        name = self._names.get(base, base)
        said = []

        def waiting(reason: str) -> None:
            if not said:  # once per request: the backoff's own pace is not news
                said.append(reason)
                self.say(f"  the {name} service does not answer ({reason}); waiting for it")

        # a tick or a read is safe to repeat, and a 500 can be a database connection lost
        # under the service (ended by an administrator, too many clients)
        response = request(None, method, url, headers=self.headers, timeout=timeout,
                           backoff=self.backoff, on_retry=waiting,
                           retry_statuses=RETRY_STATUSES | {500})
        if said and response.ok:
            self.say(f"  the {name} service answers again")
        response.raise_for_status()
        return response

    def _get(self, path: str):
        return self._request("GET", self.submission_url + path, timeout=30).json()

    # ------------------------------------------------------------------ reading
    def milestones(self) -> list[Milestone]:
        found = []
        for call in self._get("/calls"):
            call_id = call["id"] if isinstance(call, dict) else call
            timetable = self._get(f"/calls/{call_id}/timetable")
            for item in timetable["milestones"]:
                found.append(Milestone(call_id, item["key"], item.get("label", item["key"]),
                                       datetime.fromisoformat(item["at"]), bool(item.get("fired"))))
        return sorted(found, key=lambda m: m.at)

    def resolve_stage(self, name: str) -> datetime:
        """The instant of a milestone key (``evaluation_start``) or stage name (``evaluation``)."""
        matches = [m for m in self.milestones() if m.key == name or m.key == f"{name}_start"]
        if not matches:
            known = sorted({m.key for m in self.milestones()})
            raise ValueError(f"no milestone {name!r}; known: {', '.join(known)}")
        return matches[0].at

    # ------------------------------------------------------------------ driving
    def tick(self) -> list:
        """Fire what is due, then let every other service do its clock-driven work now.

        A tick works on a deadline for a bounded time and reports it ``pending`` when the
        topics are not all closed and screened yet (a big call's take minutes): it is
        ticked again until nothing is pending, so the clock never moves past a deadline
        half-done, and no request waits on all of it."""
        fired, said = [], None
        while True:
            answer = self._request("POST", self.submission_url + "/timetable/tick").json()
            fired += answer.get("fired", [])
            pending = answer.get("pending") or []
            if not pending:
                break
            progress = "; ".join(f"{p['milestone']} of {p['call_id']}: {deadline_progress(p)}"
                                 for p in pending)
            if progress != said:
                self.say(f"  {progress}")
                said = progress
        self._tick_services()
        return fired

    def _tick_services(self) -> dict[str, int]:
        """Every other service's clock work: how much each one did (services that found
        nothing to do are left out). Submission's clock work is firing milestones, which
        ``tick`` asks for by name (it reports what fired)."""
        worked = {}
        for name, url in self.service_urls.items():
            if url.rstrip("/") == self.submission_url:
                continue
            response = self._request("POST", f"{url.rstrip('/')}/clock/tick")
            amount = response.json().get("worked", 0)
            if amount:
                worked[name] = amount
        return worked

    def settle(self) -> float:
        """Wait for the traffic to stop, then tick the services again until a tick finds
        nothing to do: an event can enable clock work (the stage that opens evaluation lets
        the next sweep assign experts), which must happen at this instant, before the clock
        moves on. Returns the seconds waited.

        A tick that found nothing to do (every service reports ``worked`` 0) caused no
        traffic, so it needs no second wait: that wait (two quiet looks a tenth of a second
        apart, each asking every service and queue) was a fixed cost of every instant of a
        replay, two per applicants' instant of the scenario runner."""
        waited = self._wait()
        rounds = []
        for _ in range(MAX_TICK_ROUNDS):
            worked = self._tick_services()
            if not worked:
                return waited
            waited += self._wait()
            rounds.append(", ".join(f"{name} {amount}" for name, amount in worked.items()))
        raise TimeoutError(f"services still found clock work after {MAX_TICK_ROUNDS} rounds "
                           f"at {self.clock.now().isoformat()} (work per round: "
                           + "; ".join(rounds) + ")")

    def _wait(self) -> float:
        return wait_until_settled(self.amqp_uri, self.service_urls,
                                  retry_delays_ms=self.retry_delays_ms, token=self.token,
                                  stall_timeout=self.stall_timeout, waiting=self.waiting)

    def advance_to(self, target: datetime, on_step: Callable[[Step], None] | None = None) -> list[Step]:
        current = self.clock.now()
        if target < current:
            raise ValueError(f"the clock never goes backwards: it is {current.isoformat()}")
        pending = [m for m in self.milestones() if m.at <= target and not m.fired]
        stops = sorted({m.at for m in pending if m.at > current})
        if any(m.at <= current for m in pending):
            # an advance interrupted after moving the clock: fire what is due at this
            # instant first, so it happens when it should (not at the next stop)
            stops.insert(0, current)
        if not stops or stops[-1] != target:
            stops.append(target)
        steps = []
        for at in stops:
            began = time.monotonic()
            self.clock.set(at)
            fired = self.tick()
            settled = self.settle()
            step = Step(at, fired, settled, time.monotonic() - began)
            steps.append(step)
            if on_step:
                on_step(step)
        return steps
