"""Issue 10, finding 4 (free text): every text field a request of any service can carry has
a maximum length, read from the services' request schemas themselves, so a field added
later without one fails here."""
from __future__ import annotations

import importlib
import inspect

import pytest
from marshmallow import Schema, fields, validate

from shared.config import SERVICES

#: fields whose value is checked against a closed list (no length needed)
_CLOSED = (validate.OneOf,)


def request_schemas(service: str) -> list[type[Schema]]:
    """The schemas of the bodies and query strings the service's routes document
    (``@doc(body=..., query=...)``: tests/security/test_http_openapi.py proves every route
    has one)."""
    from shared.config import SERVICE_CLASSES
    from shared.openapi import routes

    module, _, name = SERVICE_CLASSES[service].partition(":")
    service_cls = getattr(importlib.import_module(module), name)
    found = []
    for method_name, _ in routes(service_cls):
        info = getattr(service_cls, method_name).openapi
        for kind in (info["body"], info["query"]):
            kinds = kind.values() if isinstance(kind, dict) else [kind]
            found += [k for k in kinds if inspect.isclass(k) and issubclass(k, Schema)]
    return found


def _fixed_pattern(check) -> bool:
    """A pattern that only matches text of a bounded length (no * or +)."""
    return isinstance(check, validate.Regexp) and not any(
        c in check.regex.pattern for c in "*+")


def unbounded(field: fields.Field, path: str) -> list[str]:
    if isinstance(field, fields.Nested):
        nested = field.schema
        return [p for name, f in nested.fields.items() for p in unbounded(f, f"{path}.{name}")]
    if isinstance(field, fields.List):
        return unbounded(field.inner, f"{path}[]")
    if isinstance(field, fields.Dict):
        return ((unbounded(field.key_field, f"{path}{{key}}") if field.key_field else [])
                + (unbounded(field.value_field, f"{path}{{}}") if field.value_field else []))
    if isinstance(field, fields.String) and not isinstance(field, fields.Email):
        checks = field.validators
        if any(isinstance(v, validate.Length) and v.max is not None for v in checks) or \
                any(isinstance(v, _CLOSED) or _fixed_pattern(v) for v in checks):
            return []
        return [path]
    return []


@pytest.mark.parametrize("service", SERVICES)
def test_every_text_field_of_every_request_has_a_maximum(service):
    schemas = request_schemas(service)
    found = [p for schema in schemas for name, f in schema().fields.items()
             for p in unbounded(f, f"{schema.__name__}.{name}")]
    assert not found, f"text without a maximum length: {found}"
