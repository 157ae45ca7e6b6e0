"""The OpenAPI document of the submission service: the shared builder
(:mod:`shared.openapi`) with this service's title, description and money field."""
from __future__ import annotations

from services.submission import schemas
from shared.openapi import doc, document, openapi_path, routes  # noqa: F401 (re-exported)
from shared.openapi import build as _build

TITLE = "Grantflow submission service"
DESCRIPTION = ("Calls, proposals until an exact deadline, the closing manifest and "
               "screening. Bearer tokens: see services/submission/README.md.")
FIELD_TYPES = ((schemas.MoneyField, "string", "decimal"),)
#: POST /calls: the YAML text as the body, or JSON {"yaml": TEXT}
CALL_SOURCE = {"application/yaml": {"type": "string"}, "application/json": schemas.CallLoadSchema}


def build(service_cls) -> dict:
    return _build(service_cls, title=TITLE, description=DESCRIPTION, field_types=FIELD_TYPES)
