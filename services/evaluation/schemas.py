"""Request bodies of the evaluation API (marshmallow). A body that breaks them is a 422
naming each field and rule (``shared.web``); the domain checks the rest (score ranges,
comment lengths, expert fields) with the same kind of message."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

_TEXT = dict(required=True, validate=validate.Length(min=1))


class _Body(Schema):
    class Meta:
        unknown = RAISE


class CriterionEntrySchema(_Body):
    score = fields.Raw(allow_none=True)  # the domain reads numbers and says what is wrong
    comment = fields.String(allow_none=True)


class ReportSchema(_Body):
    criteria = fields.Dict(keys=fields.String(), values=fields.Nested(CriterionEntrySchema),
                           required=True)
    final = fields.Boolean(load_default=False)


class ReasonSchema(_Body):
    reason = fields.String(**_TEXT)


class DeclineSchema(_Body):
    reason = fields.String(load_default="")


class NoteSchema(_Body):
    text = fields.String(**_TEXT)


class OperationsConflictSchema(_Body):
    expert_id = fields.String(**_TEXT)
    proposal_id = fields.String(**_TEXT)
    reason = fields.String(**_TEXT)


class OverrideSchema(_Body):
    release = fields.List(fields.String(), load_default=list)
    assign = fields.List(fields.String(), load_default=list)
    reason = fields.String(**_TEXT)

    @validates_schema
    def _something(self, data, **_):
        if not data.get("release") and not data.get("assign"):
            raise ValidationError("name at least one expert to release or assign", "release")


class RunSchema(_Body):
    topics = fields.List(fields.String(), load_default=None)


class PublishRankingSchema(_Body):
    force = fields.Boolean(load_default=False)
