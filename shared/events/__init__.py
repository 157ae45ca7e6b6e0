"""The published language: integration events, their schemas and wire names."""
from shared.events.base import Event, new_event_id, wire_name  # noqa: F401
from shared.events.catalogue import *  # noqa: F401,F403
from shared.events.registry import dump, load, schema_for  # noqa: F401
