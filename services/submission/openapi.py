"""The OpenAPI document of the submission service, built from its own entrypoints.

Every ``@api`` route of the service class is listed (so none can be missing), described
by what ``@doc`` attached to its method: summary, request body, success response and
the error statuses it can answer. Schemas come from :mod:`services.submission.schemas`
through apispec's marshmallow plugin.
"""
from __future__ import annotations

import inspect
import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.submission import schemas
from shared.web import ApiRoute

ERROR_TEXT = {400: "malformed request (not JSON, bad query argument)",
              401: "missing, invalid or expired bearer token",
              403: "the token's role may not call this route",
              404: "unknown id, or not yours (the same answer, so ids cannot be probed)",
              409: "conflicts with the current state (deadline passed, wrong state...)",
              413: "a part is larger than the limit", 422: "invalid field values"}
_PATH_VALUE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


def doc(summary: str, *, body=None, response=None, status: int = 200,
        errors: tuple[int, ...] = (), query: tuple[tuple[str, str, str], ...] = ()):
    """Describe an entrypoint: ``body`` and ``response`` are schema classes, ``[Schema]``
    for a list, or ``"yaml"``/``"binary"``; ``query`` lists (name, type, description)."""
    def mark(method):
        method.openapi = {"summary": summary, "body": body, "response": response,
                          "status": status, "errors": errors, "query": query}
        return method
    return mark


def routes(service_cls) -> list[tuple[str, ApiRoute]]:
    """``(method name, route)`` of every ``@api`` entrypoint, by URL then method."""
    found = []
    for name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiRoute) and not getattr(entrypoint, "serves_html",
                                                                False):
                found.append((name, entrypoint))  # pages are HTML: not in the JSON API
    return sorted(found, key=lambda item: (item[1].url, item[1].method))


def openapi_path(url: str) -> str:
    """werkzeug ``/proposals/<proposal_id>`` -> OpenAPI ``/proposals/{proposal_id}``."""
    return _PATH_VALUE.sub(lambda m: "{" + m.group("name") + "}", url)


def _content(kind) -> dict:
    if kind == "yaml":
        return {"application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": schemas.CallLoadSchema}}
    if kind == "binary":
        return {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    if isinstance(kind, list):
        return {"application/json": {"schema": {"type": "array", "items": kind[0]}}}
    return {"application/json": {"schema": kind or {"type": "object"}}}


def _operation(name: str, method, route: ApiRoute) -> dict:
    info = getattr(method, "openapi", None) or {
        "summary": (inspect.getdoc(method) or name).splitlines()[0], "body": None,
        "response": None, "status": 200, "errors": (), "query": ()}
    roles = "public" if route.public else \
        f"roles: {', '.join(route.roles) if route.roles else 'any authenticated caller'}"
    operation = {"operationId": name, "summary": info["summary"], "description": roles,
                 "responses": {str(info["status"]): {"description": "success",
                                                     "content": _content(info["response"])}}}
    if not route.public:
        operation["security"] = [{"bearer": []}]
        info_errors = (401, 403, *info["errors"]) if route.roles else (401, *info["errors"])
    else:
        info_errors = info["errors"]
    for status in sorted(set(info_errors)):
        operation["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": schemas.ErrorSchema}}}
    if info["body"] is not None:
        operation["requestBody"] = {"required": True, "content": _content(info["body"])}
    if info["query"]:
        operation["parameters"] = [{"name": q, "in": "query", "required": False,
                                    "schema": {"type": kind}, "description": text}
                                   for q, kind, text in info["query"]]
    return operation


def build(service_cls) -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Grantflow submission service", version="1.0.0",
                   openapi_version="3.0.3", plugins=[plugin],
                   info={"description": "Calls, proposals until an exact deadline, the "
                                        "closing manifest and screening. Bearer tokens: "
                                        "see services/submission/README.md."})
    plugin.map_to_openapi_type(schemas.MoneyField, "string", "decimal")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    paths: dict[str, dict] = {}
    for name, route in routes(service_cls):
        method = getattr(service_cls, name)
        paths.setdefault(route.url, {})[route.method.lower()] = _operation(name, method, route)
    for url, operations in paths.items():
        parameters = [{"name": m.group("name"), "in": "path", "required": True,
                       "schema": {"type": "integer" if m.group("converter") == "int"
                                  else "string"}}
                      for m in _PATH_VALUE.finditer(url)]
        spec.path(path=openapi_path(url), operations=operations, parameters=parameters)
    return spec.to_dict()


@lru_cache(maxsize=4)
def document(service_cls) -> dict:
    """The document for ``service_cls`` (built once per process)."""
    return build(service_cls)
