"""HTTP plumbing for the services' JSON APIs.

``@api(method, url, roles=...)`` is nameko's ``@http`` plus three things every route needs:
it authenticates the bearer token and passes a :class:`Principal` as ``principal=``, it
maps errors to statuses with a JSON body that names the field and the rule (400 malformed
JSON, 401/403 access, 404 unknown id, 409 conflict, 422 validation), and it records
request metrics. An unexpected exception is a 500 with an error id to find in the log;
the body never contains a traceback.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import date, datetime
from decimal import Decimal

from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared.auth import DEFAULT_DEV_SECRET, AuthError, Principal, authenticate
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition

_log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a machine-readable code and per-field details."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict | list | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        if code:
            self.code = code


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Unprocessable(ApiError):
    status, code = 422, "validation_failed"


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(data) -> str:
    return json.dumps(data, default=_default)


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(to_json(data), status=status, headers=headers,
                    mimetype="application/json")


def json_body(request) -> dict:
    """The request's JSON object, or a 400 naming the problem."""
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="malformed_json")
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", code="malformed_json")
    return body


def validation_errors(exc: ValidationError) -> list[dict]:
    """Flatten marshmallow's nested messages into ``{field: "a.b[0].c", rule: ...}``."""
    flat: list[dict] = []

    def walk(messages, path):
        if isinstance(messages, dict):
            for key, value in messages.items():
                step = f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
                walk(value, path + step)
        elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
            for message in messages:
                flat.append({"field": path or "_body", "rule": message})
        elif isinstance(messages, list):
            for index, value in enumerate(messages):
                walk(value, f"{path}[{index}]")
        else:
            flat.append({"field": path or "_body", "rule": str(messages)})

    walk(exc.messages, "")
    return flat


#: idle kept-alive client connections are closed after this long (eventlet's default keeps
#: them forever); the same idle timeout as nginx's default
KEEPALIVE_IDLE_SECONDS = 75


class GrantflowWebServer(WebServer):
    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.keepalive = KEEPALIVE_IDLE_SECONDS
        return server


class ApiRoute(HttpRequestHandler):
    server = GrantflowWebServer()

    def __init__(self, method: str, url: str, roles: tuple[str, ...] | None = None,
                 public: bool = False, **kwargs):
        # a refused request is the caller's error, not ours: nameko logs these as warnings
        kwargs.setdefault("expected_exceptions", (ApiError, ValidationError, AuthError))
        super().__init__(method, url, **kwargs)
        self.roles = roles
        self.public = public

    def get_entrypoint_parameters(self, request):
        args, kwargs = super().get_entrypoint_parameters(request)
        if not self.public:
            secret = self.container.config.get("AUTH_SECRET", DEFAULT_DEV_SECRET)
            principal = authenticate(secret, request.headers.get("Authorization"))
            if self.roles and principal.role not in self.roles:
                raise AuthError(403, f"role {principal.role!r} may not call "
                                     f"{self.method} {self.url} (allowed: {', '.join(self.roles)})")
            kwargs = {**kwargs, "principal": principal}
        return args, kwargs

    def handle_request(self, request):
        started = time.perf_counter()
        response = super().handle_request(request)
        service = self.container.service_name
        HTTP_REQUESTS.labels(service, self.url, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, self.url).observe(time.perf_counter() - started)
        return response

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
            return json_response(result[1], status=result[0])
        return json_response(result)

    def response_from_exception(self, exc):
        if isinstance(exc, ApiError):
            body = {"error": exc.code, "message": exc.message}
            if exc.errors is not None:
                body["errors"] = exc.errors
            return json_response(body, status=exc.status)
        if isinstance(exc, ValidationError):
            errors = validation_errors(exc)
            return json_response({"error": "validation_failed",
                                  "message": "; ".join(f"{e['field']}: {e['rule']}" for e in errors),
                                  "errors": errors}, status=422)
        if isinstance(exc, AuthError):
            return json_response({"error": "unauthorized" if exc.status == 401 else "forbidden",
                                  "message": exc.message}, status=exc.status,
                                 headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
        if isinstance(exc, HTTPException):
            return json_response({"error": exc.name.lower().replace(" ", "_"),
                                  "message": exc.description}, status=exc.code)
        error_id = uuid.uuid4().hex[:12]
        _log.error("unhandled error %s in %s %s", error_id, self.method, self.url,
                   exc_info=(type(exc), exc, exc.__traceback__))
        return json_response({"error": "internal_error",
                              "message": f"unexpected error; quote id {error_id} to operations"},
                             status=500)


api = ApiRoute.decorator


def metrics_response() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)
