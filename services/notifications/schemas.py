"""The HTTP API's request schemas: a ValidationError is a 422 naming field and rule."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.notifications.domain.delivery import STATUSES
from services.notifications.domain.notification import TEMPLATES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ListQuery(_Strict):
    """``GET /notifications`` query parameters."""

    proposal_id = fields.String(validate=validate.Length(min=1, max=40))
    recipient = fields.Email(validate=validate.Length(max=254))
    status = fields.String(validate=validate.OneOf(STATUSES))
    template = fields.String(validate=validate.OneOf(TEMPLATES))
    call_id = fields.String(validate=validate.Length(min=1, max=80))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    # bounded: an offset of 1e20 overflowed the database's integer (a 500)
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class ExportQuery(ListQuery):
    """``GET /notifications.csv``: the same filters, pages of up to 10,000 deliveries."""

    limit = fields.Integer(load_default=10_000, validate=validate.Range(min=1, max=10_000))


class LettersQuery(_Strict):
    """``GET /letters`` query parameters."""

    call_id = fields.String(required=True, validate=validate.Length(min=1, max=80))


class ResendBody(_Strict):
    """``POST /notifications/<id>/resend`` body (optional)."""

    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=500))
