"""Request schemas of the operations API (a ValidationError becomes a 422 naming the
field and the rule)."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

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
    """Body of ``POST /dead-letters/replay``: one ``event_id``, or ``"all": true`` for every
    dead letter. An empty body no longer means "all": a body lost on the way (a chunked
    request read as empty) must not replay everything."""

    class Meta:
        unknown = RAISE

    event_id = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=200))
    all = fields.Boolean(load_default=False)

    @validates_schema
    def _one_or_all(self, data, **_):
        if data.get("event_id") and data.get("all"):
            raise ValidationError("give an event_id or \"all\": true, not both", "all")
        if not data.get("event_id") and not data.get("all"):
            raise ValidationError('required: the event_id to replay, or "all": true to replay '
                                  "every dead letter", "event_id")
