"""The broker's dead-letter queue behind a dependency (config ``AMQP_URI``): each call
opens its own short connection through :mod:`shared.messaging.dlq`.

Listing takes every letter off the queue unacknowledged until it is done: for that moment
the letters are invisible to anyone else. The operations page lists them every few
seconds, so a replay asked for meanwhile found nothing and answered 404 (the likely
cause of the end-to-end page test failing once on a loaded machine: the replayed letter
stayed listed). One process's listings and replays therefore
take turns (a lock, green under eventlet's monkey patch); a listing by another process
(a second replica, ``grantflow dlq list``) can still hide a letter for its moment, and the
replay's 404 says so."""
from __future__ import annotations

import threading

from nameko.extensions import DependencyProvider

from shared.messaging import dlq


class DeadLetterQueue:
    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self._turns = threading.Lock()

    def list(self) -> list[dict]:
        """Every dead letter (the queue is left as it was)."""
        with self._turns:
            return [letter.to_dict() for letter in dlq.list_dead_letters(self.amqp_uri)]

    def replay(self, event_id: str | None = None) -> list[dict]:
        """Send the dead letters of ``event_id`` (all when None) back to their handler.

        Only the letters in the queue when asked are replayed: a message that fails again
        at once (an unreadable payload) lands at the queue's tail while the replay is
        still reading, and must not be replayed over and over in one request."""
        with self._turns:
            present = [letter.event_id for letter in dlq.list_dead_letters(self.amqp_uri)]
            wanted = [i for i, found in enumerate(present) if event_id in (None, found)]
            if not wanted:
                return []
            return [letter.to_dict() for letter in
                    dlq.replay(self.amqp_uri, event_id=event_id, limit=wanted[-1] + 1)]


class DeadLetters(DependencyProvider):
    def setup(self):
        self.queue = DeadLetterQueue(self.container.config["AMQP_URI"])

    def get_dependency(self, worker_ctx):
        return self.queue
