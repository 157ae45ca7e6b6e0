"""Has the pipeline settled? Nothing left that the current instant has caused.

Used between the steps of a replayed timetable (``grantflow clock advance``, the demo and
the scenario runner): the clock moves on only when

- no event waits in a queue (consumer and retry-delay queues: passive declares, exact);
- no message is in a service's hands: each service's ``/health`` ``busy_workers`` counts
  running workers, messages received whose worker has not started, and messages held for a
  batch, so a message delivered but not acked yet is counted by the service that holds it.
  The management API's ``messages_unacknowledged`` is no help here: it is a statistic
  refreshed every 5 s, measured stale by 5 s in both directions;
- no outbox row is unsent (``outbox_backlog``);
- no mail is queued, being sent or deferred (notifications ``/health`` ``deliveries``; a
  service without that field is asked through ``GET /notifications?status=``). Waiting for
  the mail is what stamps a letter with the instant it was caused at: a replay that moved on
  while the SMTP server was down sent July's letters "in December".

While the SMTP server is down the wait says so, once and then now and then. A wait gives up
only when nothing has moved for ``stall_timeout`` seconds (``smtp_timeout`` while the SMTP
server is reported down), so a big call's long stage is waited for, a wedged one is not.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import requests
from kombu import Connection

from grantflow.topology import consumer_queues

MAIL_STATES = ("queued", "sending", "deferred")


@dataclass
class Snapshot:
    queued: dict
    outboxes: dict
    busy: dict
    unreachable: list
    mail: dict = field(default_factory=dict)  # state -> messages not yet accepted by SMTP
    smtp: dict | None = None  # notifications' view of the SMTP server, when it reports one

    @property
    def quiet(self) -> bool:
        return (not self.unreachable and not any(self.queued.values())
                and not any(self.outboxes.values()) and not any(self.busy.values())
                and not any(self.mail.values()))

    @property
    def smtp_down(self) -> bool:
        return bool(self.smtp) and self.smtp.get("state") == "down"

    def signature(self) -> tuple:
        """What changes while work progresses (a stall is a signature that stays)."""
        return (tuple(sorted(self.queued.items())), tuple(sorted(self.outboxes.items())),
                tuple(sorted(self.busy.items())), tuple(sorted(self.mail.items())),
                tuple(self.unreachable))

    def describe(self) -> str:
        parts = [f"{name}: {n} queued" for name, n in self.queued.items() if n]
        parts += [f"{name}: {n} in outbox" for name, n in self.outboxes.items() if n]
        parts += [f"{name}: {n} busy" for name, n in self.busy.items() if n]
        parts += [f"mail: {n} {state}" for state, n in self.mail.items() if n]
        parts += [f"{name}: not answering" for name in self.unreachable]
        return ", ".join(parts) or "quiet"


def queue_names(retry_delays_ms=()) -> list[str]:
    """Every queue an event can wait in: the consumers' and the retry delays'."""
    return [q.name for q in consumer_queues()] + [f"grantflow.delay.{ms}ms"
                                                  for ms in retry_delays_ms]


def queue_depths(conn: Connection, names: list[str]) -> dict[str, int]:
    queued = {}
    channel = conn.channel()
    for name in names:
        try:
            _, messages, _ = channel.queue_declare(name, passive=True)
        except Exception:  # not declared (yet): nothing can be waiting in it
            channel = conn.channel()
            messages = 0
        queued[name] = messages
    return queued


def mail_backlog(url: str, health: dict, token: str | None) -> tuple[dict, dict | None]:
    """(messages per state not yet accepted by the SMTP server, the SMTP state or None)."""
    deliveries = health.get("deliveries")
    if isinstance(deliveries, dict):
        return ({state: int(deliveries.get(state) or 0) for state in MAIL_STATES},
                health.get("smtp"))
    if token is None:  # an older notifications service, and nobody to ask the log
        return {}, None
    # an older notifications service: its delivery log knows queued (due or deferred)
    # and sending rows
    backlog = {}
    for state in ("queued", "sending"):
        answer = requests.get(f"{url}/notifications", params={"status": state, "limit": 1},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        backlog[state] = int(answer.json().get("total", 0))
    return backlog, None


def snapshot(amqp_uri: str, service_urls: dict[str, str], names: list[str],
             token: str | None = None, conn: Connection | None = None) -> Snapshot:
    if conn is None:
        with Connection(amqp_uri) as own:
            return snapshot(amqp_uri, service_urls, names, token, own)
    queued = queue_depths(conn, names)
    outboxes, busy, unreachable, mail, smtp = {}, {}, [], {}, None
    for name, url in service_urls.items():
        url = url.rstrip("/")
        try:
            health = requests.get(f"{url}/health", timeout=5).json()
            if name == "notifications":
                mail, smtp = mail_backlog(url, health, token)
        except (requests.RequestException, ValueError):
            unreachable.append(name)
            continue
        outboxes[name] = health.get("outbox_backlog", 0)
        busy[name] = health.get("busy_workers", 0)
    return Snapshot(queued, outboxes, busy, unreachable, mail, smtp)


class Waiting:
    """What a long wait says: the SMTP server down (once, then every ``every`` seconds),
    a service not answering, and when they are back."""

    def __init__(self, say: Callable[[str], None], every: float = 60.0):
        self.say = say
        self.every = every
        self._smtp_since: float | None = None
        self._smtp_said = 0.0
        self._unreachable: dict[str, float] = {}

    def saw(self, last: Snapshot) -> None:
        now = time.monotonic()
        pending = sum(last.mail.values())
        if last.smtp_down:
            if self._smtp_since is None:
                self._smtp_since = self._smtp_said = now
                since = (last.smtp or {}).get("since") or "now"
                error = (last.smtp or {}).get("last_error") or "no answer"
                self.say(f"  the SMTP server is down (since {since}: {error}); {pending} "
                         f"messages wait: the clock waits for them")
            elif now - self._smtp_said >= self.every:
                self._smtp_said = now
                self.say(f"  still waiting for the SMTP server ({now - self._smtp_since:.0f}s); "
                         f"{pending} messages wait")
        elif self._smtp_since is not None:
            self.say(f"  the SMTP server is back after {now - self._smtp_since:.0f}s; "
                     f"{pending} messages to send")
            self._smtp_since = None
        for name in last.unreachable:
            if name not in self._unreachable:
                self._unreachable[name] = now
                self.say(f"  the {name} service does not answer; waiting for it")
        for name in list(self._unreachable):
            if name not in last.unreachable:
                self.say(f"  the {name} service answers again after "
                         f"{now - self._unreachable.pop(name):.0f}s")


def wait_until_settled(amqp_uri: str, service_urls: dict[str, str], *,
                       stall_timeout: float = 300, smtp_timeout: float = 3600,
                       quiet_checks: int = 2, interval: float = 0.25, first: float = 0.05,
                       confirm: float = 0.1, retry_delays_ms=(),
                       token: str | None = None, say: Callable[[str], None] | None = None,
                       waiting: Waiting | None = None) -> float:
    """Block until ``quiet_checks`` consecutive snapshots are quiet; returns the seconds
    waited. Raises TimeoutError when nothing moved for ``stall_timeout`` seconds.

    The driver has already run every service's clock-driven work (``/clock/tick``), so
    what remains is event and mail traffic: a few consecutive quiet snapshots suffice.
    Snapshots start 50 ms apart and back off to ``interval`` while work goes on: most
    instants of a replay settle within a few hundred milliseconds, and a fixed quarter of a
    second between looks was most of a small replay's time. A quiet look is confirmed
    ``confirm`` seconds later (a message on its way from the broker to a consumer is in
    no queue and in no service's hands for that moment)."""
    started = time.monotonic()
    names = queue_names(retry_delays_ms)
    waiting = waiting or Waiting(say or (lambda line: None))
    streak, last, moved, signature = 0, None, started, None
    pause = min(first, interval)
    conn = Connection(amqp_uri)
    try:
        while True:
            try:
                last = snapshot(amqp_uri, service_urls, names, token, conn)
            except (OSError, *conn.connection_errors) as exc:  # the broker's connection
                conn.close()
                conn = Connection(amqp_uri)
                last = Snapshot({}, {}, {}, [f"broker ({type(exc).__name__})"])
            waiting.saw(last)
            streak = streak + 1 if last.quiet else 0
            if streak >= quiet_checks:
                return time.monotonic() - started
            now = time.monotonic()
            if last.signature() != signature:
                signature, moved = last.signature(), now
            limit = smtp_timeout if last.smtp_down else stall_timeout
            if now - moved > limit:
                raise TimeoutError(f"the pipeline did not settle: nothing moved for "
                                   f"{limit:.0f}s: {last.describe()}")
            if last.quiet:
                time.sleep(min(confirm, interval))
            else:
                time.sleep(pause)
                pause = min(pause * 1.5, interval)
    finally:
        conn.close()
