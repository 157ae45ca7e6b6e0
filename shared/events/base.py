"""The envelope every integration event carries, and the one place wire names are derived.

Events are plain frozen dataclasses so domain code can build them without importing
marshmallow; their wire form is defined once, in :mod:`shared.events.schemas`.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar


def new_event_id() -> str:
    return str(uuid.uuid4())


def wire_name(class_name: str) -> str:
    """``ProposalSubmitted`` -> ``proposal_submitted``: the only place this is derived."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


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

    @classmethod
    def event_type(cls) -> str:
        return wire_name(cls.__name__)

    def __post_init__(self):
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"{type(self).__name__}.occurred_at must be timezone-aware")
        # the envelope carries UTC; payload instants keep the zone they were given in
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(timezone.utc))
