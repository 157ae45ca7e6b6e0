"""The HTTP API's request schemas: a ValidationError is a 422 naming field and rule."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

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
    #: the id of the last delivery of the page before: the next page starts after it,
    #: however deep (an offset reads every row before it again: paging through a large
    #: log that way costs the square of its size)
    after = fields.UUID()

    @validates_schema
    def _one_way_to_page(self, data, **kwargs):
        if "after" in data and data.get("offset"):
            raise ValidationError("cannot be combined with an offset", "after")


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
