"""The dead letters waiting on the broker, as the daily digest shows them."""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.extensions import DependencyProvider

from services.notifications.domain.digest import DeadLetter
from shared.messaging import dlq


def _instant(text: str | None) -> datetime:
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        return datetime.min.replace(tzinfo=timezone.utc)  # unknown: listed first
    return value


def as_digest_letter(letter: dlq.DeadLetter) -> DeadLetter:
    return DeadLetter(queue=letter.queue, event_type=letter.event_type or "?",
                      event_id=letter.event_id or "-", reason=letter.error,
                      dead_at=_instant(letter.dead_lettered_at))


class DeadLetterReader:
    """Reads the dead-letter queue without changing it (``shared.messaging.dlq``)."""

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri

    def waiting(self, call_id: str) -> list[DeadLetter]:
        """The waiting dead letters of ``call_id``, and those whose call is unreadable."""
        return [as_digest_letter(letter) for letter in dlq.list_dead_letters(self.amqp_uri)
                if not isinstance(letter.payload, dict)
                or letter.payload.get("call_id") in (None, call_id)]


class DeadLetterProvider(DependencyProvider):
    def setup(self):
        self.reader = DeadLetterReader(self.container.config["AMQP_URI"])

    def get_dependency(self, worker_ctx):
        return self.reader
