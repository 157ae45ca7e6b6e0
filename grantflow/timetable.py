"""Drive a call's timetable on the simulated clock: stage by stage, never skipping one.

``advance_to(target)`` moves the shared clock to each timetable milestone between now and
the target in order; at each one it asks the submission service (owner of calls and their
timetable) to fire what is due and waits until the pipeline has settled before moving on,
so every stage's events and everything they cause happen at that stage's instant.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import requests

from grantflow.settle import wait_until_settled
from shared.clock import SimulatedClock


MAX_TICK_ROUNDS = 10


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


class TimetableDriver:
    def __init__(self, clock: SimulatedClock, submission_url: str, token: str, amqp_uri: str,
                 service_urls: dict[str, str], retry_delays_ms=()):
        self.clock = clock
        self.submission_url = submission_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.amqp_uri = amqp_uri
        self.service_urls = service_urls
        self.retry_delays_ms = retry_delays_ms

    # ------------------------------------------------------------------ reading
    def _get(self, path: str):
        response = requests.get(self.submission_url + path, headers=self.headers, timeout=30)
        response.raise_for_status()
        return response.json()

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
        """Fire what is due, then let every other service do its clock-driven work now."""
        response = requests.post(self.submission_url + "/timetable/tick", headers=self.headers,
                                 timeout=300)
        response.raise_for_status()
        self._tick_services()
        return response.json().get("fired", [])

    def _tick_services(self) -> int:
        """Every other service's clock work; how much was done. Submission's clock work is
        firing milestones, which ``tick`` asks for by name (it reports what fired)."""
        worked = 0
        for url in self.service_urls.values():
            if url.rstrip("/") == self.submission_url:
                continue
            response = requests.post(f"{url.rstrip('/')}/clock/tick", headers=self.headers,
                                     timeout=300)
            response.raise_for_status()
            worked += response.json().get("worked", 0)
        return worked

    def settle(self) -> float:
        """Wait for the traffic to stop, then tick the services again until a tick finds
        nothing to do: an event can enable clock work (the stage that opens evaluation lets
        the next sweep assign experts), which must happen at this instant, before the clock
        moves on. Returns the seconds waited."""
        waited = self._wait()
        for _ in range(MAX_TICK_ROUNDS):
            worked = self._tick_services()
            waited += self._wait()
            if not worked:
                return waited
        raise TimeoutError(f"services still found clock work after {MAX_TICK_ROUNDS} rounds")

    def _wait(self) -> float:
        return wait_until_settled(self.amqp_uri, self.service_urls,
                                  retry_delays_ms=self.retry_delays_ms)

    def advance_to(self, target: datetime, on_step: Callable[[Step], None] | None = None) -> list[Step]:
        current = self.clock.now()
        if target < current:
            raise ValueError(f"the clock never goes backwards: it is {current.isoformat()}")
        stops = sorted({m.at for m in self.milestones() if current < m.at <= target and not m.fired})
        if not stops or stops[-1] != target:
            stops.append(target)
        steps = []
        for at in stops:
            self.clock.set(at)
            fired = self.tick()
            step = Step(at, fired, self.settle())
            steps.append(step)
            if on_step:
                on_step(step)
        return steps
