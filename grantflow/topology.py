"""Declare every queue Grantflow consumes from, before any service publishes.

A topic exchange drops a message that no queue is bound for yet; if submission published
``proposal_submitted`` before notifications had ever started, the receipt would be lost.
``grantflow up`` and the test harness therefore declare all consumer queues first, read
straight from the service classes' ``@subscribe`` entrypoints (one source of truth), and
``grantflow deploy rabbitmq-definitions`` writes the same as RabbitMQ definitions for
deployments.
"""
from __future__ import annotations

import importlib
import inspect
import re

from kombu import Connection

from shared.config import SERVICE_CLASSES
from shared.messaging import topology as t
from shared.messaging.consumer import DEFAULT_RETRY_DELAYS_MS, DomainEventHandler


def service_class(name: str) -> type:
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def producers_consumed() -> dict[str, set[str]]:
    """Each service and the producers whose events it consumes (for its broker user)."""
    return {name: {producer for producer, _, _ in subscriptions(service_class(name))}
            for name in SERVICE_CLASSES}


def _entrypoints(cls) -> list[tuple[str, DomainEventHandler]]:
    return sorted(((method_name, entrypoint)
                   for method_name, method in inspect.getmembers(cls, inspect.isfunction)
                   for entrypoint in getattr(method, "nameko_entrypoints", ())
                   if isinstance(entrypoint, DomainEventHandler)),
                  key=lambda found: (found[1].source_service, found[1].event_type, found[0]))


def subscriptions(cls) -> list[tuple[str, str, str]]:
    """(producer, event_type, method) for each ``@subscribe`` entrypoint of a service."""
    return [(entrypoint.source_service, entrypoint.event_type, method)
            for method, entrypoint in _entrypoints(cls)]


def consumer_queues(services=None, queue_type: str = "classic"):
    """Each service's consumer queues as its entrypoints declare them, bindings included."""
    return [t.consumer_queue(entrypoint.source_service, entrypoint.event_type, cls.name,
                             method, queue_type, entrypoint.routing_keys)
            for cls in map(service_class, services or SERVICE_CLASSES)
            for method, entrypoint in _entrypoints(cls)]


def declare_all(amqp_uri: str, services=None, queue_type: str = "classic",
                retry_delays_ms=DEFAULT_RETRY_DELAYS_MS) -> int:
    queues = t.infrastructure_queues(retry_delays_ms, queue_type) + consumer_queues(
        services, queue_type)
    with Connection(amqp_uri) as conn:
        t.declare(conn.default_channel, queues)
    return len(queues)


def stale_queues(existing: list[dict], services=None, queue_type: str = "classic",
                 retry_delays_ms=DEFAULT_RETRY_DELAYS_MS) -> list[dict]:
    """The queues in ``existing`` (management API rows with ``name``) that Grantflow once
    declared and the code no longer does: consumer queues of Grantflow's services whose
    handler is gone, delay queues of retry delays no longer configured. Anything not named
    like Grantflow's own queues is never stale."""
    wanted = {q.name for q in t.infrastructure_queues(retry_delays_ms, queue_type)
              + consumer_queues(services, queue_type)}
    ours = tuple(services or SERVICE_CLASSES)
    stale = []
    for queue in existing:
        name = queue["name"]
        consumer = re.fullmatch(r"evt-[a-z_]+-[a-z_]+--([a-z_]+)\.\w+", name)
        delay = re.fullmatch(r"grantflow\.delay\.\d+ms", name)
        if name not in wanted and ((consumer and consumer.group(1) in ours) or delay):
            stale.append(queue)
    return sorted(stale, key=lambda q: q["name"])


def prune(amqp_uri: str, names: list[str], *, dry_run: bool = False,
          force: bool = False) -> list[tuple[str, int, str]]:
    """Delete the queues ``names`` (see :func:`stale_queues`): ``(name, messages, action)``
    with action ``deleted``, ``would delete`` (``dry_run``) or ``kept`` (it holds messages
    and not ``force``). Counts come from the broker itself (a passive declare), not from
    the management API's statistics, which lag by seconds; an empty queue is deleted with
    ``if-empty`` so a message arriving meanwhile is not lost."""
    done = []
    with Connection(amqp_uri) as conn:
        for name in names:
            channel = conn.channel()
            try:
                messages = channel.queue_declare(name, passive=True).message_count
                if messages and not force:
                    done.append((name, messages, "kept"))
                elif dry_run:
                    done.append((name, messages, "would delete"))
                else:
                    channel.queue_delete(name, if_empty=not force)
                    done.append((name, messages, "deleted"))
            except conn.channel_errors:  # gone meanwhile, or no longer empty
                done.append((name, 0, "kept"))
            finally:
                channel.close()
    return done
