"""Queue each message once, then deliver it over SMTP with retries.

Exactly-once and the crash window (README, "Exactly-once mail"): a delivery's key is its
Notification key, unique in the log, so a redelivered event, a replayed milestone or a
second clock tick queue nothing new. A row is marked ``sending`` with a lease and a claim
token and committed *before* the SMTP transaction, and ``sent`` (with its
notification_delivered event, in one transaction) after it. A crash between the server's
"250 OK" and that commit leaves the row ``sending``; when its lease expires it is sent
again with the same Message-ID. We chose at-least-once on that narrow window because a
lost result letter is worse than a duplicate that the recipient's mail system can
recognise by its Message-ID.

Retry and backoff use the wall clock (they are about a real SMTP server); ``created_at``,
``sent_at`` and the events use the service clock (simulated in tests and demos).
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Iterable

from services.notifications.adapters import delivery_log as log
from services.notifications.adapters.metrics import count
from services.notifications.adapters.mailer import (OutgoingMail, PermanentMailError,
                                                    TransientMailError)
from services.notifications.adapters.rendering import RenderError, render
from services.notifications.domain.delivery import FAILED, SENT, gave_up_reason
from services.notifications.domain.notification import Notification
from shared.events import NotificationDelivered, NotificationFailed
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
    """Add each notification to the log unless its key is there; in the caller's
    transaction. A template that cannot render ends its row failed with the reason (and a
    notification_failed event) instead of blocking the other messages. Returns how many
    were queued now."""
    added = 0
    wall = wall_now()
    for note in notes:
        subject, body, error = rendered(note)
        if not log.add(uow.session, note, subject, body, now, wall):
            continue
        added += 1
        if error:
            _log.error("%s to %s not renderable: %s", note.template, note.recipient, error)
            end(uow, log.get(uow.session, note.notification_id), None, now, error)
    return added


# --------------------------------------------------------------------------- delivering
def dispatch_due(uow, mailer, clock, settings) -> int:
    """Send what is due (one batch); returns how many deliveries were claimed."""
    token = str(uuid.uuid4())
    with uow:
        rows = log.claim_due(uow.session, wall_now(), settings.batch_size, mailer.lease, token)
        uow.commit()
    # stop taking new messages well before the lease runs out, so no other replica takes
    # over a row this one is still sending
    stop_at = time.monotonic() + mailer.lease.total_seconds() / 2
    for index, row in enumerate(rows):
        if time.monotonic() > stop_at:
            with uow:
                log.give_back(uow.session, rows[index:], token, wall_now())
                uow.commit()
            break
        unreachable = _deliver(uow, mailer, clock, settings, row, token)
        if unreachable:  # every other message would fail the same way now: count it so
            _retry_later(uow, clock, settings, rows[index + 1:], token, unreachable)
            break
    return len(rows)


def _deliver(uow, mailer, clock, settings, row, token: str) -> str | None:
    """One SMTP attempt; returns the error when the server is unreachable."""
    try:
        mailer.send(OutgoingMail(row.recipient, row.subject, row.body, row.message_id))
    except TransientMailError as exc:
        _retry_later(uow, clock, settings, [row], token, str(exc))
        return str(exc) if exc.unreachable else None
    except PermanentMailError as exc:
        with uow:
            end(uow, row, token, clock.now(), str(exc))
            uow.commit()
        return None
    failpoint("notifications.after_send", row.template)
    with uow:
        end(uow, row, token, clock.now())
        uow.commit()
    return None


def _retry_later(uow, clock, settings, rows, token: str, error: str) -> None:
    """Each row again after its backoff, or failed once it has had its attempts."""
    with uow:
        for row in rows:
            if settings.retry.gives_up(row.attempts):
                end(uow, row, token, clock.now(), gave_up_reason(row.attempts, error))
                continue
            log.reschedule(uow.session, row, token, error,
                           wall_now() + settings.retry.backoff(row.attempts))
            count(row.template, "deferred")
            _log.warning("delivery %s (%s to %s) deferred after attempt %d: %s", row.id,
                         row.template, row.recipient, row.attempts, error)
        uow.commit()


def end(uow, row, token: str | None, now: datetime, failed: str | None = None) -> bool:
    """Record the final outcome and its event, in the caller's transaction; only if the
    row is still claimed with ``token`` (None: a row nobody has claimed)."""
    if failed is None:
        values = dict(status=SENT, sent_at=now, last_error=None)
    else:
        values = dict(status=FAILED, failed_at=now, last_error=failed)
    if not log.finish(uow.session, row, token, **values):
        _log.warning("delivery %s was taken over by another sender; its outcome is theirs",
                     row.id)
        return False
    uow.add_events(outcome_event(row, now, failed))
    count(row.template, "sent" if failed is None else "failed")
    if failed is not None:
        _log.error("delivery %s (%s to %s) failed: %s", row.id, row.template, row.recipient,
                   failed)
    return True


def outcome_event(row, now: datetime, failed: str | None = None):
    common = dict(call_id=row.call_id, correlation_id=row.proposal_id or row.call_id,
                  occurred_at=now, causation_id=row.source_event_id, notification_id=row.id,
                  source_event_id=row.source_event_id, source_event_type=row.source_event_type,
                  recipient=row.recipient, template=row.template, proposal_id=row.proposal_id)
    if failed is None:
        return NotificationDelivered(**common, message_id=row.message_id, sent_at=now)
    return NotificationFailed(**common, reason=failed)
