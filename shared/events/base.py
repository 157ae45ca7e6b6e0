"""The envelope every integration event carries, and the one place wire names are derived.

Events are plain frozen dataclasses so domain code can build them without importing
marshmallow; their wire form is defined once, in :mod:`shared.events.schemas`.
"""
from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar


def new_event_id() -> str:
    return str(uuid.uuid4())


@functools.cache  # asked for each event written and read; the catalogue's names are few
def wire_name(class_name: str) -> str:
    """``ProposalSubmitted`` -> ``proposal_submitted``: the only place this is derived."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


#: a routing key's second word: what a topic binding can name exactly (no dot, ``*``
#: or ``#``); any other value is routed under ``-``, which no such word is
_ROUTING_WORD = re.compile(r"[a-z0-9_]{1,60}")


def qualified_key(event_type: str, value) -> str:
    word = value if isinstance(value, str) and _ROUTING_WORD.fullmatch(value) else "-"
    return f"{event_type}.{word}"


@dataclass(frozen=True, kw_only=True)
class Event:
    """Envelope fields shared by every event.

    ``correlation_id`` names what the event concerns (a proposal id, or the call id for
    call-wide events); ``causation_id`` is the ``event_id`` of the event or command that
    caused it (None for a human command).
    """

    call_id: str
    correlation_id: str
    occurred_at: datetime
    causation_id: str | None = None
    event_id: str = field(default_factory=new_event_id)

    #: which service publishes this event (its nameko service name / exchange prefix)
    producer: ClassVar[str] = ""
    #: bumped whenever the payload changes incompatibly; consumers upcast older versions
    schema_version: ClassVar[int] = 1
    #: a payload field whose value is the routing key's second word
    #: (``notification_delivered.result_letter``), so that a consumer may bind to one kind
    #: of the event instead of receiving every one to drop most; None: the type alone
    routed_by: ClassVar[str | None] = None

    @classmethod
    def event_type(cls) -> str:
        return wire_name(cls.__name__)

    @classmethod
    def routing_key_for(cls, payload: dict) -> str:
        """The routing key of this type's event with ``payload`` (its wire form): the
        relay publishes with it and a consumer checks a delivery's key against it."""
        if cls.routed_by is None:
            return cls.event_type()
        return qualified_key(cls.event_type(), payload.get(cls.routed_by))

    def routing_key(self) -> str:
        """This event's routing key: its fields are named as its payload's keys."""
        return self.routing_key_for(vars(self))

    def __post_init__(self):
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"{type(self).__name__}.occurred_at must be timezone-aware")
        # the envelope carries UTC; payload instants keep the zone they were given in
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(timezone.utc))
