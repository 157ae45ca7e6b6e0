"""Per-service broker users: what each service may do on RabbitMQ, and nothing more.

With one shared account (guest/guest in development) any service, or anyone holding its
credentials, can publish a well-formed event on another service's exchange and it is
trusted. In production each service connects as ``grantflow-<service>``
(``GRANTFLOW_<SERVICE>_AMQP_URI``) with these permissions (RabbitMQ regular expressions per
vhost; deploy/README.md, "Broker users"):

- **write** (publish): its own ``<service>.events`` exchange, the retry exchanges and the
  dead-letter exchange; operations also ``grantflow.requeue`` (replaying dead letters).
  The retry exchanges are topic exchanges so that a *topic permission* limits the routing
  keys a service may use on them to the names of its own queues: a retry can only come
  back to the service that failed it. ``write`` on its own queues and the infrastructure
  queues is what binding them needs.
- **read** (consume, and bind to an exchange): its own consumer queues, the exchanges it
  binds them to, the infrastructure exchanges; operations and notifications (its daily
  digest lists the dead letters) also the dead-letter queue.
- **configure** (declare): the same names, so a service can declare its own topology on
  start; another service's exchange only to bind its queues to it (declaring an existing
  exchange), never to publish; the dead-letter queue's readers also its turn
  (``grantflow.dead-letters.turn``, an exclusive queue held while one of them reads).

A consumer additionally refuses an event whose type is not its exchange's producer's
(:mod:`shared.messaging.inbound`), so a service can publish only its own events. What
stays trusted: operations may replay any dead letter to any queue (an operator's action,
marked ``x-grantflow-replayed``), and the dead-letter queue accepts letters from every
service.
"""
from __future__ import annotations

import re

from shared.config import SERVICES
from shared.messaging import topology as t

#: the service that replays dead letters (``grantflow dlq``, the operations page)
REPLAYER = "operations"
#: the services that list the dead-letter queue: the replayer, and notifications (the daily
#: digest names what waits there); a listing holds the queue's turn while it reads
DEAD_LETTER_READERS = (REPLAYER, "notifications")


def broker_user(service: str) -> str:
    return f"grantflow-{service}"


def _any_of(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$"


def own_queues(service: str) -> str:
    """The pattern of a service's consumer queues (``evt-<producer>-<type>--<service>.<m>``)."""
    return rf"evt-[a-z_]+-[a-z_]+--{re.escape(service)}\.[A-Za-z0-9_]+"


def permissions(service: str, consumes_from: set[str]) -> dict:
    """``configure``, ``write`` and ``read`` patterns of ``service``'s broker user, given
    the producers whose events it consumes."""
    own_exchange = re.escape(f"{service}.events")
    sources = [re.escape(f"{producer}.events") for producer in sorted(consumes_from)]
    retry = r"grantflow\.retry\.[0-9]+ms"
    delay_queues = r"grantflow\.delay\.[0-9]+ms"
    dead_letter = re.escape(t.DEAD_LETTER_EXCHANGE)
    dead_letters = re.escape(t.DEAD_LETTER_QUEUE)
    requeue = re.escape(t.REQUEUE_EXCHANGE)
    queues = own_queues(service)
    write = [own_exchange, retry, dead_letter, queues, delay_queues, dead_letters]
    read = [queues, *sources, retry, dead_letter, requeue]
    configure = [own_exchange, *sources, queues, retry, delay_queues, dead_letter,
                 dead_letters, requeue]
    if service == REPLAYER:
        write.append(requeue)
    if service in DEAD_LETTER_READERS:
        read.append(dead_letters)
        configure.append(re.escape(t.DEAD_LETTER_TURN_QUEUE))
    return {"configure": _any_of(*configure), "write": _any_of(*write),
            "read": _any_of(*read)}


def retry_topic_permissions(service: str, delays_ms) -> list[dict]:
    """On each retry exchange a service may only use its own queues' names as routing
    keys (RabbitMQ topic authorisation names each exchange exactly; an exchange without
    one is not checked, so every retry delay in use must be listed)."""
    return [{"exchange": t.delay_exchange(ms).name, "write": "^" + own_queues(service) + "$",
             "read": ".*"} for ms in sorted(set(delays_ms))]


def definitions(subscriptions: dict[str, set[str]], delays_ms, vhost: str = "/") -> dict:
    """The users, permissions and topic permissions of a RabbitMQ definitions file for
    every service; ``subscriptions`` maps a service to the producers it consumes from,
    ``delays_ms`` are the retry delays (``GRANTFLOW_RETRY_DELAYS_MS``).
    Users are created without a password (``password_hash`` empty: no login) until the
    operator sets one from the secret store (deploy/README.md)."""
    users, perms, topics = [], [], []
    for service in SERVICES:
        user = broker_user(service)
        users.append({"name": user, "password_hash": "", "tags": []})
        perms.append({"user": user, "vhost": vhost,
                      **permissions(service, subscriptions.get(service, set()))})
        topics += [{"user": user, "vhost": vhost, **topic}
                   for topic in retry_topic_permissions(service, delays_ms)]
    return {"users": users, "permissions": perms, "topic_permissions": topics}
