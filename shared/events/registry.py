"""Lookup from wire name to event class and schema, plus upcasters for old versions."""
from __future__ import annotations

from typing import Callable

from shared.events import catalogue, schemas
from shared.events.base import Event

SCHEMAS: dict[str, type[schemas.EnvelopeSchema]] = {}
for _schema in vars(schemas).values():
    if isinstance(_schema, type) and issubclass(_schema, schemas.EnvelopeSchema) \
            and _schema is not schemas.EnvelopeSchema:
        SCHEMAS[_schema.event_class.event_type()] = _schema

EVENT_CLASSES: dict[str, type[Event]] = {cls.event_type(): cls for cls in catalogue.ALL_EVENTS}

# (event_type, from_version) -> function turning a payload of that version into the next one.
UPCASTERS: dict[tuple[str, int], Callable[[dict], dict]] = {}

_schema_instances: dict[str, schemas.EnvelopeSchema] = {}


class UnknownEventType(KeyError):
    pass


def schema_for(event_type: str) -> schemas.EnvelopeSchema:
    if event_type not in SCHEMAS:
        raise UnknownEventType(event_type)
    if event_type not in _schema_instances:
        _schema_instances[event_type] = SCHEMAS[event_type]()
    return _schema_instances[event_type]


def dump(event: Event) -> dict:
    """The wire payload (JSON-ready dict) of an event."""
    return schema_for(event.event_type()).dump(event)


def load(payload: dict, expected: type[Event] | None = None) -> Event:
    """Validate a wire payload (upcasting older versions) and build its event.

    Raises marshmallow.ValidationError naming each bad field."""
    event_type = payload.get("event_type") or (expected.event_type() if expected else None)
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    version = payload.get("schema_version", cls.schema_version)
    while version < cls.schema_version:
        payload = UPCASTERS[(event_type, version)](dict(payload))
        version += 1
        payload["schema_version"] = version
    return schema_for(event_type).load(payload)
