"""The published language: integration events, their schemas and wire names.

Importing this package loads only plain dataclasses, so domain code can use the events
without pulling marshmallow in; ``dump``/``load``/``schema_for`` load the schemas on first
use (from :mod:`shared.events.registry`).
"""
from shared.events.base import Event, new_event_id, wire_name  # noqa: F401
from shared.events.catalogue import *  # noqa: F401,F403

_LAZY = {"dump", "load", "schema_for"}


def __getattr__(name):
    if name in _LAZY:
        from shared.events import registry
        return getattr(registry, name)
    raise AttributeError(f"module 'shared.events' has no attribute {name!r}")
