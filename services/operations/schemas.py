"""Request schemas of the operations API (a ValidationError becomes a 422 naming the
field and the rule)."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from services.operations.domain.lifecycle import STATES


class ProposalQuerySchema(Schema):
    """Query string of ``GET /calls/<call_id>/proposals``."""

    class Meta:
        unknown = EXCLUDE

    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    topic = fields.String(load_default=None, validate=validate.Length(min=1, max=80))


class LoadsQuerySchema(Schema):
    """Query string of ``GET /loads``."""

    class Meta:
        unknown = EXCLUDE

    call_id = fields.String(load_default=None, validate=validate.Length(min=1, max=80))


class ReplaySchema(Schema):
    """Body of ``POST /dead-letters/replay``: one event id, or nothing for all."""

    class Meta:
        unknown = RAISE

    event_id = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=200))
