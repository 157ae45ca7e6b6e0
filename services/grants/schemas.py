"""Request shapes of the grants HTTP API (a ValidationError becomes a 422 naming each
field and rule; unknown fields are refused so a typo is not silently ignored)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.grants.domain.grant import State


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NoBody(_Strict):
    """confirm, sign, authority-sign: nothing to say but the step itself."""


def _not_blank(text: str) -> None:
    if not text.strip():
        raise ValidationError("must not be blank")


class DeclineBody(_Strict):
    reason = fields.String(required=True, validate=[validate.Length(max=2000), _not_blank])


_ID = validate.Length(min=1, max=80)


class GrantsQuery(_Strict):
    call_id = fields.String(load_default=None, validate=_ID)
    topic_id = fields.String(load_default=None, validate=_ID)
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in State]))


class TimingQuery(_Strict):
    call_id = fields.String(load_default=None, validate=_ID)
    proposal_id = fields.String(load_default=None, validate=_ID)
