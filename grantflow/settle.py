"""Has the pipeline settled? No event waiting in a queue or an outbox, no worker busy.

Used between the steps of a replayed timetable (``grantflow clock advance``, the demo and
the scenario runner): the next stage only starts once everything the previous one caused
has happened, which is what keeps a replay in minutes equivalent to months of wall time.
Queue depths come from passive declares (exact), not from the management API's
statistics (refreshed every few seconds).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from kombu import Connection

from grantflow.topology import consumer_queues
from shared.messaging import topology as t


@dataclass
class Snapshot:
    queued: dict
    outboxes: dict
    busy: dict
    unreachable: list

    @property
    def quiet(self) -> bool:
        return (not self.unreachable and not any(self.queued.values())
                and not any(self.outboxes.values()) and not any(self.busy.values()))

    def describe(self) -> str:
        parts = [f"{name}: {n} queued" for name, n in self.queued.items() if n]
        parts += [f"{name}: {n} in outbox" for name, n in self.outboxes.items() if n]
        parts += [f"{name}: {n} busy" for name, n in self.busy.items() if n]
        parts += [f"{name}: not answering" for name in self.unreachable]
        return ", ".join(parts) or "quiet"


def queue_names(retry_delays_ms=()) -> list[str]:
    """Every queue an event can wait in: the consumers' and the retry delays'."""
    return [q.name for q in consumer_queues()] + [f"grantflow.delay.{ms}ms"
                                                  for ms in retry_delays_ms]


def snapshot(amqp_uri: str, service_urls: dict[str, str], names: list[str]) -> Snapshot:
    queued = {}
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for name in names:
            try:
                _, messages, _ = channel.queue_declare(name, passive=True)
            except Exception:  # not declared (yet): nothing can be waiting in it
                channel = conn.channel()
                messages = 0
            queued[name] = messages
    outboxes, busy, unreachable = {}, {}, []
    for name, url in service_urls.items():
        try:
            health = requests.get(f"{url}/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            unreachable.append(name)
            continue
        outboxes[name] = health.get("outbox_backlog", 0)
        busy[name] = health.get("busy_workers", 0)
    return Snapshot(queued, outboxes, busy, unreachable)


def wait_until_settled(amqp_uri: str, service_urls: dict[str, str], timeout: float = 300,
                       quiet_checks: int = 2, interval: float = 0.25,
                       retry_delays_ms=()) -> float:
    """Block until ``quiet_checks`` consecutive snapshots are quiet; returns the seconds
    waited.

    The driver has already run every service's clock-driven work (``/clock/tick``), so
    what remains is event traffic: a few consecutive quiet snapshots suffice."""
    started = time.monotonic()
    names = queue_names(retry_delays_ms)
    streak = 0
    last = None
    while time.monotonic() - started < timeout:
        last = snapshot(amqp_uri, service_urls, names)
        streak = streak + 1 if last.quiet else 0
        if streak >= quiet_checks:
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"the pipeline did not settle within {timeout:.0f}s: {last.describe()}")
