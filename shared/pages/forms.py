"""Reading forms: a posted form becomes the JSON body the API's schema loads, so a page
and the API accept and refuse exactly the same things, with the same field paths."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.web import validation_errors

MAX_FIELD = 20_000  # characters of any one form value kept (the schemas bound each field)


def text(form, name: str, default: str = "") -> str:
    return (form.get(name) or default)[:MAX_FIELD].replace("\r\n", "\n")


def errors_of(exc: ValidationError) -> list[dict]:
    """``[{field, rule}]`` with the API's field paths (``co_applicants[1].country``)."""
    return validation_errors(exc)


class SignInRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(
        max=254, error="must be at most 254 characters"))
    next = fields.String(load_default="", validate=validate.Length(max=1000))
