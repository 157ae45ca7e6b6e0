"""Queue each message once, then deliver it over SMTP with retries.

Exactly-once and the crash window (README, "Exactly-once mail"): a delivery's key is its
Notification key, unique in the log, so a redelivered event, a replayed milestone or a
second clock tick queue nothing new. A batch of due rows is claimed (``sending``, a
lease, a claim token) and committed *before* any SMTP transaction; a heartbeat renews
the lease while the batch runs. Messages go in groups of :data:`GROUP`: each attempt is
recorded before its group is sent, in the transaction that records the outcomes of the
group before, so the log knows which messages a batch reached. Once the server has said
"250 OK", the transaction that marks the row ``sent`` (with its notification_delivered
event) is retried on a fresh connection until it lands: a database error cannot make us
send it again, only the death of the process can. Then the row stays ``sending`` with an
open attempt; when its lease expires it is sent again with the same Message-ID, that
attempt is marked as following an interrupted one, and
``notifications_possible_duplicates_total`` counts it.

Claimed rows that a batch did not try go back to the queue at once when the batch ends
early: on an error, when the server became unreachable (they count a deferral then), or
when the service stops.

Retry and backoff use the wall clock (they are about a real SMTP server); ``created_at``,
``sent_at`` and the events use the service clock (simulated in tests and demos).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

import sqlalchemy as sa

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters.lease import LeaseKeeper, database_away
from services.notifications.adapters.mailer import (OutgoingMail, PermanentMailError,
                                                    TransientMailError)
from services.notifications.adapters.metrics import count, count_possible_duplicate
from services.notifications.adapters.rendering import RenderError, render
from services.notifications.domain.delivery import (DEFERRED, FAILED, INTERRUPTED, SENT,
                                                    gave_up_reason)
from services.notifications.domain.notification import Notification
from shared.events import NotificationDeferred, NotificationDelivered, NotificationFailed
from shared.failpoints import failpoint

_log = logging.getLogger(__name__)


def wall_now() -> datetime:
    """Real time, for retry timing and leases only (never a domain timestamp)."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- queueing
def rendered(note: Notification) -> tuple[str | None, str | None, str | None]:
    """(subject, body, None), or (None, None, reason) when the template fails."""
    try:
        text = render(note.template, note.context)
    except RenderError as exc:
        return None, None, f"render error: {exc}"
    return text.subject, text.body, None


def queue(uow, notes: Iterable[Notification], now: datetime) -> int:
    """Add each notification to the log unless its key is there, in one statement in the
    caller's transaction (a milestone releases thousands of letters at once). A template
    that cannot render ends its row failed with the reason (and a notification_failed
    event) instead of blocking the other messages. Returns how many were queued now."""
    wall = wall_now()
    entries, errors = {}, {}
    for note in notes:
        subject, body, error = rendered(note)
        entries[note.notification_id] = log.entry(note, subject, body, now, wall)
        if error:
            errors[note.notification_id] = (note, error)
    added = log.add_many(uow.session, list(entries.values()))
    for delivery_id in sorted(added & set(errors)):
        note, error = errors[delivery_id]
        _log.error("%s to %s not renderable: %s", note.template, note.recipient, error)
        end(uow, log.get(uow.session, delivery_id), None, now, error)
        count(note.template, FAILED)
    return len(added)


# --------------------------------------------------------------------------- delivering
#: messages whose attempts are recorded together: their starts in one transaction before
#: the first is sent, their outcomes in the one after the last (with the next group's
#: starts). Fewer commits per message; the price is paid only when the process dies mid-
#: group: up to this many "sent" commits lost (sent again), and the group's untried
#: messages counted as possible duplicates too.
GROUP = 10


@dataclass
class Attempt:
    """What became of one claimed message in a batch, to be recorded."""

    row: object
    outcome: str  # sent | deferred | failed | interrupted
    error: str | None = None
    unreachable: bool = False  # no conversation took place: the rest of the batch waits
    started: bool = True  # its attempt row was written when its group started


def dispatch_due(uow, mailer, clock, settings,
                 on_claimed: Callable[[int], None] | None = None) -> int:
    """Send what is due (one batch) over one SMTP connection; returns how many deliveries
    were claimed. ``on_claimed`` is told how many once the claim is committed, before
    anything is sent."""
    token = str(uuid.uuid4())
    with uow:
        rows = log.claim_due(uow.session, wall_now(), settings.batch_size, mailer.lease, token)
        again = log.close_interrupted(uow.session, [row.id for row in rows], wall_now())
        engine = uow.session.get_bind()
        uow.commit()
    if on_claimed is not None:
        on_claimed(len(rows))
    if rows:
        _Batch(uow, mailer, clock, settings, token, again).run(rows, engine)
    return len(rows)


def deliver_all_due(uow, mailer, clock, settings) -> int:
    """Send everything due: up to ``settings.senders`` senders at once, each claiming
    batches (:func:`dispatch_due`: its own claim token, transaction and SMTP connection)
    until a claim comes back short. Returns how many deliveries were claimed.

    One batch per timer tick sent at most 50 messages a tick, and a single sender waits
    for the SMTP server's answer to each message before the next: a milestone's
    thousands of letters went at 50 a second. Claims skip rows another sender holds
    (``FOR UPDATE SKIP LOCKED``), as between replicas, so senders never share a
    message. They stop while the server is unreachable (the first batch deferred
    what it held; the rest waits for the retry) and when the service stops.

    The first sender claims alone, and calls in the others only when its claim comes
    back full: most ticks find less than a batch due (the few dozen messages one batch
    of events queued), and every other sender's claim, a transaction of its own, came
    back empty (1,099 of the 1,519 claims of a 1,000-proposal demo)."""
    senders = max(1, settings.senders)
    claimed = [0] * senders
    errors: list[BaseException] = []
    others: list[threading.Thread] = []

    def sender(index: int, own, on_claimed=None) -> None:
        while not mailer.stopping.is_set():
            count = dispatch_due(own, mailer, clock, settings, on_claimed)
            on_claimed = None  # only the first claim decides
            claimed[index] += count
            if count < settings.batch_size or not mailer.state.up:
                return

    def other_sender(index: int, own) -> None:
        try:
            sender(index, own)
        except BaseException as exc:  # re-raised in the timer's worker below
            errors.append(exc)

    def call_in_the_others(count: int) -> None:
        if count < settings.batch_size:
            return  # what was due fits in this one batch
        for index in range(1, senders):
            thread = threading.Thread(target=other_sender, args=(index, uow.another()),
                                      name=f"mail-sender-{index}", daemon=True)
            others.append(thread)
            thread.start()

    try:
        sender(0, uow, call_in_the_others)  # in the timer's worker
    except Exception as exc:  # the others end their batches first (a kill does not wait)
        errors.insert(0, exc)
    for thread in others:
        thread.join()
    if errors:
        raise errors[0]
    return sum(claimed)


class _Batch:
    """One claimed batch, tried in groups of :data:`GROUP` messages: the outcomes of one
    group are recorded with the starts of the next, in one transaction."""

    def __init__(self, uow, mailer, clock, settings, token: str, after_interruption: set):
        self.uow, self.mailer, self.clock, self.settings = uow, mailer, clock, settings
        self.token, self.after_interruption = token, after_interruption
        self.done: list[Attempt] = []  # outcomes not recorded yet
        self.reached = 0  # rows[:reached] were tried, or deferred without a try
        self.marked = 0  # rows[:marked] have their attempt row (started)

    def run(self, rows, engine) -> None:
        with LeaseKeeper(engine, self.token, self.mailer.lease) as lease, \
                self.mailer.connection() as smtp:
            try:
                for first in range(0, len(rows), GROUP):
                    if self.mailer.stopping.is_set() or lease.lost:
                        break
                    group = rows[first:first + GROUP]
                    self._record(start=group)
                    self.marked = first + len(group)
                    if not self._try(smtp, rows, group):
                        break
            finally:
                self._record()
                self._give_back(rows[self.reached:], started=rows[self.reached:self.marked])

    def _try(self, smtp, rows, group) -> bool:
        """Send each message of ``group``; False when the batch must stop. Each names the
        next of the group, whose envelope may go with its text (one round trip a message,
        :class:`.adapters.mailer.SmtpConnection`); the last names none: nothing of a
        message goes to the server before its attempt is recorded, and the next group's
        are recorded only with this group's outcomes."""
        for at, row in enumerate(group):
            if self.mailer.stopping.is_set():
                return False
            self.reached += 1  # from here on it may reach the server: never "untried"
            attempt = self._attempt(smtp, row, group[at + 1] if at + 1 < len(group) else None)
            self.done.append(attempt)
            if attempt.unreachable:  # every other message would fail the same way
                self.done += [Attempt(r, DEFERRED, attempt.error, unreachable=True,
                                      started=index < self.marked)
                              for index, r in enumerate(rows) if index >= self.reached]
                self.reached = len(rows)
                return False
        return True

    def _attempt(self, smtp, row, following=None) -> Attempt:
        try:
            smtp.send(_outgoing(row), then=None if following is None else _outgoing(following))
        except TransientMailError as exc:
            return Attempt(row, INTERRUPTED if exc.uncertain else DEFERRED, str(exc),
                           unreachable=exc.unreachable)
        except PermanentMailError as exc:
            return Attempt(row, FAILED, str(exc))
        failpoint("notifications.after_send", row.template)
        return Attempt(row, SENT)

    def _record(self, start=()) -> None:
        """Record the outcomes in hand and the start of each attempt of ``start``, in one
        transaction. With outcomes in hand it is retried until it lands (what the server
        said must not be lost to a database error); starts alone are not retried."""
        done, self.done = self.done, []
        if not done and not start:
            return

        def work(uow):
            wall = wall_now()
            sent = [attempt for attempt in done if attempt.outcome == SENT]
            self._sent(uow, [attempt.row for attempt in sent], wall)
            counted = [SENT if attempt.outcome == SENT else self._outcome(uow, attempt, wall)
                       for attempt in done]
            log.start_attempts(uow.session, start, self.token, wall, self.after_interruption)
            return counted

        if done:
            counted = commit_until_done(self.uow, work,
                                        f"the outcome of {len(done)} deliveries")
        else:
            with self.uow:
                counted = work(self.uow)
                self.uow.commit()
        for attempt, outcome in zip(done, counted):
            count(attempt.row.template, outcome)
        self._log_deferrals([a for a, outcome in zip(done, counted) if outcome == DEFERRED])
        for row in start:
            if row.id in self.after_interruption:
                count_possible_duplicate(row.template)
                _log.warning("delivery %s (%s to %s) is sent again after an interrupted "
                             "attempt: the recipient may get it twice (same Message-ID %s)",
                             row.id, row.template, row.recipient, row.message_id)

    def _sent(self, uow, rows, wall: datetime) -> None:
        """The messages the server accepted, in a few statements for the whole group."""
        if not rows:
            return
        now = self.clock.now()
        log.end_attempts(uow.session, rows, SENT, wall, token=self.token)
        ours = log.finish_many(uow.session, rows, self.token, status=SENT, sent_at=now,
                               last_error=None)
        for row in rows:
            if row.id in ours:
                uow.add_events(outcome_event(row, now))
            else:
                _taken_over(row)

    def _outcome(self, uow, attempt: Attempt, wall: datetime) -> str:
        """Record one attempt's outcome (not sent) in ``uow``'s transaction; the outcome
        counted."""
        row, now, retry = attempt.row, self.clock.now(), self.settings.retry
        log.end_attempts(uow.session, [row], attempt.outcome, wall, attempt.error,
                         token=self.token, started=attempt.started)
        if attempt.outcome == FAILED:
            end(uow, row, self.token, now, attempt.error)
            return attempt.outcome
        if retry.gives_up(row.attempts):
            end(uow, row, self.token, now, gave_up_reason(row.attempts, attempt.error))
            return FAILED
        if log.reschedule(uow.session, row, self.token, attempt.error,
                          wall + retry.backoff(row.attempts), wall) \
                and row.deferred_since is None:
            uow.add_events(outcome_event(row, now, deferred=attempt.error))
        return DEFERRED

    def _give_back(self, untried, started=()) -> None:
        """Queue the untried rows again at once; ``started``: those of them whose attempt
        row was written with their group (forgotten: they were never tried)."""
        if not untried:
            return
        try:
            with self.uow:
                log.give_back(self.uow.session, untried, self.token, wall_now())
                log.forget_attempts(self.uow.session, started)
                self.uow.commit()
        except sa.exc.SQLAlchemyError as exc:
            if not database_away(exc):
                raise
            _log.info("could not give back %d untried deliveries (%s); their lease expires "
                      "in %s", len(untried), str(exc).splitlines()[0], self.mailer.lease)
            return
        _log.info("gave back %d claimed deliveries untried", len(untried))

    def _log_deferrals(self, deferred: list[Attempt]) -> None:
        """One line per message at DEBUG; one INFO line with the count while the server
        answers (an outage is logged by the mailer's ServerState, with its count)."""
        if not deferred:
            return
        for attempt in deferred:
            _log.debug("delivery %s (%s to %s) deferred after attempt %d: %s",
                       attempt.row.id, attempt.row.template, attempt.row.recipient,
                       attempt.row.attempts, attempt.error)
        if self.mailer.state.up:
            _log.info("%d deliveries deferred for a retry (%s)", len(deferred),
                      deferred[-1].error)
        else:
            self.mailer.state.count_deferred(len(deferred))


def _outgoing(row) -> OutgoingMail:
    return OutgoingMail(row.recipient, row.subject, row.body, row.message_id)


def commit_until_done(uow, work: Callable, what: str):
    """Run ``work(uow)`` and commit; after a database error (a terminated connection, too
    many clients, a deadlock), again on a fresh connection, with backoff, until it lands.
    Only for work that must not be lost, like what the SMTP server accepted: the caller
    waits as long as the database is away."""
    delay, failures = 0.05, 0
    while True:
        try:
            with uow:
                result = work(uow)
                uow.commit()
        except sa.exc.SQLAlchemyError as exc:
            if not database_away(exc):
                raise
            failures += 1
            (_log.warning if failures == 1 else _log.debug)(
                "recording %s failed (%s); retrying on a fresh connection until it is "
                "recorded", what, str(exc).splitlines()[0])
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if failures:
            _log.warning("recorded %s after %d database errors", what, failures)
        return result


def end(uow, row, token: str | None, now: datetime, failed: str | None = None) -> bool:
    """Record the final outcome and its event, in the caller's transaction; only if the
    row is still claimed with ``token`` (None: a row nobody has claimed)."""
    if failed is None:
        values = dict(status=SENT, sent_at=now, last_error=None)
    else:
        values = dict(status=FAILED, failed_at=now, last_error=failed)
    if not log.finish(uow.session, row, token, **values):
        _taken_over(row)
        return False
    uow.add_events(outcome_event(row, now, failed))
    if failed is not None:
        _log.error("delivery %s (%s to %s) failed: %s", row.id, row.template, row.recipient,
                   failed)
    return True


def _taken_over(row) -> None:
    _log.warning("delivery %s was taken over by another sender; its outcome is theirs",
                 row.id)


def outcome_event(row, now: datetime, failed: str | None = None, deferred: str | None = None):
    """notification_delivered, notification_failed (``failed``: the reason) or, at the
    first deferral, notification_deferred (``deferred``: the reason)."""
    common = dict(call_id=row.call_id, correlation_id=row.proposal_id or row.call_id,
                  occurred_at=now, causation_id=row.source_event_id, notification_id=row.id,
                  source_event_id=row.source_event_id, source_event_type=row.source_event_type,
                  recipient=row.recipient, template=row.template, proposal_id=row.proposal_id)
    if deferred is not None:
        return NotificationDeferred(**common, reason=deferred)
    after_deferral = getattr(row, "deferred_since", None) is not None
    if failed is None:
        return NotificationDelivered(**common, message_id=row.message_id, sent_at=now,
                                     after_deferral=after_deferral)
    return NotificationFailed(**common, reason=failed, after_deferral=after_deferral)
