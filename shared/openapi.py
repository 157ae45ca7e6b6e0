"""The OpenAPI 3 document of a service, built from its own ``@api`` entrypoints.

Every route of the service class is listed (so none can be missing) and described by what
``@doc`` attached to its method: summary, request body, query parameters, success response
and any error statuses of its own. What every route shares is added here, so per-route docs
stay short:

* 400 (malformed JSON, bad query) and 422 (NUL characters, values out of range) on every
  route; 401 and 403 on authenticated ones; 404 where the path names something; 411 and 413
  where a body is read; 409 and the ``Idempotency-Key`` header on state-changing ones.
* Schemas of bodies, responses and query strings are marshmallow classes, turned into JSON
  Schema by apispec's marshmallow plugin.

``tests/security/test_http_openapi.py`` fails when a route has no ``@doc``, and the
Schemathesis run there checks the services' answers against these documents.
"""
from __future__ import annotations

import inspect
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import INCLUDE, Schema, fields

from shared import idempotency
from shared.web import ApiRoute

ERROR_TEXT = {400: "malformed request (not JSON, JSON nested too deep, bad query argument)",
              401: "missing, invalid or expired bearer token",
              403: "the token's role may not call this route",
              404: "unknown id, or not yours (the same answer, so ids cannot be probed)",
              409: "conflicts with the current state, or the Idempotency-Key is in use",
              411: "a transfer coding other than chunked",
              413: "the body is larger than this route accepts",
              422: "invalid field values (the errors name each field and rule)",
              503: "not ready (the clock is not set yet), or the database (or a queue "
                   "another process is reading) is unavailable for a moment: ask again "
                   "after Retry-After"}
_PATH_VALUE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ErrorItemSchema(Schema):
    """One problem: the field and the rule; some answers add where (``line``, ``row``)."""

    class Meta:
        unknown = INCLUDE  # documented as open: details may be added

    field = fields.String(required=True)
    rule = fields.String(required=True)
    line = fields.Integer(allow_none=True)
    row = fields.Integer(allow_none=True)
    message = fields.String()


class ErrorSchema(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.List(fields.Nested(ErrorItemSchema))


def doc(summary: str, *, body=None, response=None, status: int = 200,
        errors: tuple[int, ...] = (), query=()):
    """Describe an entrypoint.

    ``body`` and ``response``: a schema class, ``[Schema]`` for a list, a dict of media type
    to schema, or one of ``"object"``, ``"array"``, ``"binary"``, ``"csv"``, ``"html"``, ``"pdf"``,
    ``"svg"``, ``"text"``, ``"yaml"`` (``None``: any JSON object). ``query``: a schema class of the query string,
    or ``(name, type, description)`` tuples. ``errors``: statuses of this route besides the
    ones every route of its kind has (see the module's docstring)."""
    def mark(method):
        method.openapi = {"summary": summary, "body": body, "response": response,
                          "status": status, "errors": tuple(errors), "query": query}
        return method
    return mark


def routes(service_cls) -> list[tuple[str, ApiRoute]]:
    """``(method name, route)`` of every ``@api`` entrypoint, by URL then method. Pages
    (``serves_html``) are HTML for people, not routes of the JSON API: left out."""
    found = []
    for name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiRoute) and not getattr(entrypoint, "serves_html",
                                                                False):
                found.append((name, entrypoint))
    return sorted(found, key=lambda item: (item[1].url, item[1].method))


def undocumented(service_cls) -> list[str]:
    """``METHOD /url`` of each route without ``@doc``."""
    return [f"{route.method} {route.url}" for name, route in routes(service_cls)
            if getattr(getattr(service_cls, name), "openapi", None) is None]


def openapi_path(url: str) -> str:
    """werkzeug ``/proposals/<proposal_id>`` -> OpenAPI ``/proposals/{proposal_id}``."""
    return _PATH_VALUE.sub(lambda m: "{" + m.group("name") + "}", url)


_KINDS = {
    "object": {"application/json": {"schema": {"type": "object"}}},
    "array": {"application/json": {"schema": {"type": "array", "items": {}}}},
    "binary": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "html": {"text/html": {"schema": {"type": "string"}}},
    "pdf": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    "csv": {"text/csv": {"schema": {"type": "string"}}},
    "svg": {"image/svg+xml": {"schema": {"type": "string"}}},
    "text": {"text/plain": {"schema": {"type": "string"}}},
    "yaml": {"application/yaml": {"schema": {"type": "string"}}},
}


def _content(kind) -> dict:
    if kind is None:
        return _KINDS["object"]
    if isinstance(kind, str):
        return _KINDS[kind]
    if isinstance(kind, dict):
        return {media: {"schema": schema} for media, schema in kind.items()}
    if isinstance(kind, list):
        return {"application/json": {"schema": {"type": "array", "items": kind[0]}}}
    return {"application/json": {"schema": kind}}


def _query_parameters(query) -> list[dict]:
    if not query:
        return []
    if inspect.isclass(query) and issubclass(query, Schema):
        return [{"in": "query", "schema": query}]
    return [{"name": q, "in": "query", "required": False, "schema": {"type": kind},
             "description": text} for q, kind, text in query]


def _statuses(route: ApiRoute, info: dict) -> set[int]:
    statuses = {400, 422, 503, *info["errors"]}
    if not route.public:
        statuses |= {401, 403} if route.roles else {401}
    if "<" in route.url:
        statuses.add(404)
    if route.method.upper() in BODY_METHODS:
        statuses |= {411, 413}
    if route.method.upper() in idempotency.STATE_CHANGING:
        statuses.add(409)
    return statuses


def _operation(name: str, info: dict, route: ApiRoute) -> dict:
    roles = "public" if route.public else \
        f"roles: {', '.join(route.roles) if route.roles else 'any authenticated caller'}"
    operation = {"operationId": name, "summary": info["summary"], "description": roles,
                 "responses": {str(info["status"]): {"description": "success",
                                                     "content": _content(info["response"])}}}
    if not route.public:
        operation["security"] = [{"bearer": []}]
    for status in sorted(_statuses(route, info) - {info["status"]}):
        operation["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": ErrorSchema}}}
    if info["body"] is not None:
        operation["requestBody"] = {"required": True, "content": _content(info["body"])}
    parameters = _query_parameters(info["query"])
    if route.method.upper() in idempotency.STATE_CHANGING:
        parameters.append({"name": idempotency.HEADER, "in": "header", "required": False,
                           "description": "repeat a request without repeating its effect: "
                                          "the same key answers the first response again",
                           "schema": {"type": "string",
                                      "pattern": idempotency.KEY_PATTERN.pattern}})
    if parameters:
        operation["parameters"] = parameters
    return operation


def build(service_cls, *, title: str, description: str, field_types=()) -> dict:
    """The document of ``service_cls``; ``field_types``: ``(field class, type, format)``
    for custom marshmallow fields."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[plugin],
                   info={"description": description})
    for field_class, kind, fmt in field_types:
        plugin.map_to_openapi_type(field_class, kind, fmt)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    paths: dict[str, dict] = {}
    for name, route in routes(service_cls):
        info = getattr(getattr(service_cls, name), "openapi", None)
        if info is None:
            raise LookupError(f"{service_cls.__name__}.{name} ({route.method} {route.url}) "
                              "has no @doc")
        paths.setdefault(route.url, {})[route.method.lower()] = _operation(name, info, route)
    for url, operations in paths.items():
        parameters = [{"name": m.group("name"), "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0}
                       if m.group("converter") == "int" else {"type": "string"}}
                      for m in _PATH_VALUE.finditer(url)]
        spec.path(path=openapi_path(url), operations=operations, parameters=parameters)
    return spec.to_dict()


_DOCUMENTS: dict[type, dict] = {}


def document(service_cls) -> dict:
    """The document of ``service_cls`` (built once per process), titled from its
    ``openapi_info`` attribute ``(title, description)``."""
    if service_cls not in _DOCUMENTS:
        title, description = getattr(service_cls, "openapi_info", (
            f"Grantflow {service_cls.name} service", inspect.getdoc(service_cls) or ""))
        _DOCUMENTS[service_cls] = build(service_cls, title=title, description=description,
                                        field_types=getattr(service_cls, "openapi_fields", ()))
    return _DOCUMENTS[service_cls]
