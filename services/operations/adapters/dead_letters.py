"""The broker's dead-letter queue behind a dependency (config ``AMQP_URI``): each call
opens its own short connection through :mod:`shared.messaging.dlq`, which makes listings
and replays take turns across every process (a listing hides the letters it reads for
its moment: a replay asked meanwhile found nothing and answered 404, the likely cause of
the end-to-end page test failing once on a loaded machine)."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from shared.messaging import dlq


class DeadLetterQueue:
    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri

    def list(self) -> list[dict]:
        """Every dead letter (the queue is left as it was)."""
        return [letter.to_dict() for letter in dlq.list_dead_letters(self.amqp_uri)]

    def replay(self, event_id: str | None = None) -> list[dict]:
        """Send the dead letters of ``event_id`` (all when None) back to their handler.

        Only the letters in the queue when asked are replayed: a message that fails again
        at once (an unreadable payload) lands at the queue's tail while the replay is
        still reading, and must not be replayed over and over in one request."""
        return [letter.to_dict() for letter in dlq.replay(self.amqp_uri, event_id=event_id)]


class DeadLetters(DependencyProvider):
    def setup(self):
        self.queue = DeadLetterQueue(self.container.config["AMQP_URI"])

    def get_dependency(self, worker_ctx):
        return self.queue
