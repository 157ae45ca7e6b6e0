"""The life of one delivery in the log, as rules: statuses, retry backoff, identities.

::

    queued ──claim──▶ sending ──250 OK, committed──▶ sent
       ▲                 │ ──5xx (refused for good)──▶ failed
       └──4xx / down─────┘ ──still failing after max_attempts──▶ failed
    sending whose lease expired (the process died mid-way) is claimed again

Each attempt is recorded with its outcome: ``sent``, ``deferred`` (4xx or the server
away), ``failed`` (refused for good, or given up), or ``interrupted``: cut short after the
message may have reached the server (the process died, or the connection broke during
the text). The attempt after an interrupted one may deliver the message a second time:
it is counted as a possible duplicate.

Pure: the service decides *when* (wall-clock instants) with these rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATUSES = (QUEUED, SENDING, SENT, FAILED)
FINAL = (SENT, FAILED)
# outcomes of one attempt (besides SENT and FAILED)
DEFERRED, INTERRUPTED = "deferred", "interrupted"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``first * 2**(attempt - 1)``, capped at ``cap``; after ``max_attempts``
    tries that all failed for a transient reason the delivery ends failed. The defaults
    (0.5 s doubling to 5 min, 50 tries) keep trying for about three and a half hours."""

    max_attempts: int = 50
    first: timedelta = timedelta(seconds=0.5)
    cap: timedelta = timedelta(minutes=5)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try (1 for the first)."""
        exponent = min(max(attempts, 1) - 1, 30)  # 2**30 half-seconds is past any cap
        return min(self.first * (2 ** exponent), self.cap)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def message_id(delivery_id: str) -> str:
    """The Message-ID header of a delivery: the same on every attempt, so a copy sent
    again after a crash is recognisably the same message to the receiving mail system;
    a resend is a new delivery with its own id, hence its own Message-ID."""
    return f"<{delivery_id}@grantflow.notifications>"


def resend_dedupe_id(original_id: str, resend_id: str) -> str:
    """The key of a resend: its own, so it never collides with the original's (nor with
    another resend of it) and is recorded as a delivery of its own."""
    return f"resend:{original_id}:{resend_id}"


def gave_up_reason(attempts: int, last_error: str) -> str:
    return f"gave up after {attempts} attempts; last error: {last_error}"
