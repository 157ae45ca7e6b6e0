"""Request bodies of the evaluation API (marshmallow). A body that breaks them is a 422
naming each field and rule (``shared.web``); the domain checks the rest (score ranges,
comment lengths, expert fields) with the same kind of message."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

#: every free text has a maximum length (a comment is a few paragraphs, not a book)
MAX_COMMENT, MAX_REASON, MAX_ID = 10_000, 2_000, 80
_TEXT = dict(required=True, validate=validate.Length(min=1, max=MAX_REASON))
_ID = dict(required=True, validate=validate.Length(min=1, max=MAX_ID))
_ID_LIST = dict(validate=validate.Length(max=100), load_default=list)


class _Body(Schema):
    class Meta:
        unknown = RAISE


class CriterionEntrySchema(_Body):
    score = fields.Raw(allow_none=True)  # the domain reads numbers and says what is wrong
    comment = fields.String(allow_none=True, validate=validate.Length(max=MAX_COMMENT))


class ReportSchema(_Body):
    criteria = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=MAX_ID)),
                           values=fields.Nested(CriterionEntrySchema), required=True,
                           validate=validate.Length(max=50))
    final = fields.Boolean(load_default=False)


class ReasonSchema(_Body):
    reason = fields.String(**_TEXT)


class DeclineSchema(_Body):
    reason = fields.String(load_default="", validate=validate.Length(max=MAX_REASON))


class NoteSchema(_Body):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_COMMENT))


class OperationsConflictSchema(_Body):
    expert_id = fields.String(**_ID)
    proposal_id = fields.String(**_ID)
    reason = fields.String(**_TEXT)


class OverrideSchema(_Body):
    release = fields.List(fields.String(validate=validate.Length(min=1, max=MAX_ID)), **_ID_LIST)
    assign = fields.List(fields.String(validate=validate.Length(min=1, max=MAX_ID)), **_ID_LIST)
    reason = fields.String(**_TEXT)

    @validates_schema
    def _something(self, data, **_):
        if not data.get("release") and not data.get("assign"):
            raise ValidationError("name at least one expert to release or assign", "release")


class RunSchema(_Body):
    topics = fields.List(fields.String(validate=validate.Length(min=1, max=MAX_ID)),
                         load_default=None, validate=validate.Length(max=100))


class PublishRankingSchema(_Body):
    force = fields.Boolean(load_default=False)
