"""HTTP plumbing for the services' JSON APIs.

``@api(method, url, roles=..., max_body=...)`` is nameko's ``@http`` plus what every route
needs, in this order, before the service method runs:

1. **The body, bounded** (:func:`prepare_body`): a ``Content-Length`` above the route's
   limit is a 413 before anything is read; a chunked body (eventlet sets no
   ``wsgi.input_terminated``, so werkzeug would read it as empty) is read here, de-chunked
   and bounded the same way, then handed on with its length.
2. **Text inputs** (:func:`check_text_inputs`): a NUL character or an over-long value in a
   path value or query argument, or a digits-only query value too large for any number, is
   a 422 naming it.
3. **Who is asking**: the bearer token is checked (issuer, audience, lifetime: see
   :mod:`shared.auth`) and the method gets a :class:`Principal` as ``principal=``.
4. **Idempotency-Key** on state-changing methods (:mod:`shared.idempotency`): a repeated
   key gets the first response again.

Errors map to statuses with a JSON body that names the field and the rule (400 malformed
JSON or JSON nested too deep, 401/403 access, 404 unknown id, 409 conflict, 411/413 body,
422 validation); a refused request is logged as one line without its body. An unexpected
exception is a 500 with an error id to find in the log; the body never contains a
traceback. A service refuses to start with a secret :func:`shared.auth.check_secret`
refuses.
"""
from __future__ import annotations

import io
import json
import logging
import math
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from collections.abc import Iterable
from functools import partial

import eventlet
from eventlet.event import Event
from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import FileWrapper

from shared import idempotency
from shared.auth import AuthError, Principal, TokenPolicy, authenticate, check_secret
from shared.config import DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE
from shared.deployment import check_deployment
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition

_log = logging.getLogger(__name__)

#: the largest request body a route accepts unless it says otherwise (413 above it)
DEFAULT_MAX_BODY = 1024 * 1024
#: JSON nested deeper than this is refused (400): no request of ours needs more than 6
MAX_JSON_DEPTH = 32
#: path values and query arguments longer than this are refused (422)
MAX_TEXT_ARG = 1000
#: integers in JSON bodies beyond +-2^53 (I-JSON, RFC 7493) are refused (422): no column
#: of ours holds them and other JSON readers would round them
MAX_JSON_INTEGER = 2 ** 53


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


class LengthRequired(ApiError):
    status, code = 411, "length_required"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_failed"


class Unavailable(ApiError):
    """Something the request needs is busy for a moment: asking again is safe."""

    status, code = 503, "unavailable"


def field_error(field: str, rule: str) -> Unprocessable:
    """A 422 for one field (a body path, a query argument, a path value, a header)."""
    return Unprocessable(f"{field}: {rule}", errors=[{"field": field, "rule": rule}])


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


#: a streamed JSON body kept in memory up to this size, on disk beyond
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
#: bytes read from the spool per write to the socket
_SEND_BLOCK = 64 * 1024


def json_text_response(chunks: Iterable[str]) -> Response:
    """A JSON document written piece by piece (``chunks`` is consumed here, in the worker,
    so whatever it reads is read in the worker's unit of work): it is spooled to a
    temporary file past 8 MB and sent from there with its length, so a document of
    gigabytes costs the service a file, not its memory."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    try:
        for chunk in chunks:
            spool.write(chunk.encode("utf-8"))
        length = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return Response(FileWrapper(spool, _SEND_BLOCK), mimetype="application/json",
                    headers={"Content-Length": str(length)}, direct_passthrough=True)


# ---------------------------------------------------------------------- reading requests
def prepare_body(environ: dict, limit: int) -> None:
    """Make the body of a WSGI request safe to read: 413 when ``Content-Length`` says it is
    larger than ``limit`` (nothing is read); a chunked body is read here through eventlet's
    de-chunking input, at most ``limit`` bytes (413 past that), and handed on as a plain
    body of known length. Any other transfer coding is refused with 411."""
    coding = environ.get("HTTP_TRANSFER_ENCODING", "").strip().lower()
    if coding and coding != "identity":
        if coding != "chunked":
            raise LengthRequired(f"Transfer-Encoding {coding!r} is not supported: send a "
                                 "Content-Length or a chunked body")
        data = environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise too_large(limit)
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            raise BadRequest(f"Content-Length {length!r} is not a number",
                             code="bad_content_length") from None
        if size > limit:
            raise too_large(limit)


def too_large(limit: int, field: str = "_body") -> PayloadTooLarge:
    rule = f"at most {limit} bytes ({limit / 1024 / 1024:g} MB)"
    return PayloadTooLarge(f"request body too large: {rule}",
                           errors=[{"field": field, "rule": rule}])


def check_text_inputs(path_values: dict, args) -> None:
    """422 naming the first path value or query argument with a NUL character, more than
    :data:`MAX_TEXT_ARG` characters, or digits too many for any number of ours."""
    items = [(name, value) for name, value in path_values.items() if isinstance(value, str)]
    items += [(name, value) for name, values in args.lists() for value in values]
    for name, value in items:
        if "\x00" in name or "\x00" in value:
            raise field_error(_printable(name), "must not contain NUL characters")
        if len(value) > MAX_TEXT_ARG:
            raise field_error(name, f"must be at most {MAX_TEXT_ARG} characters")
        digits = value.lstrip("+-")
        if digits.isdigit() and len(digits) > 15:
            raise field_error(name, "number out of range (at most 15 digits)")


def _printable(name: str) -> str:
    return name.replace("\x00", "\\0")


def json_body(request, max_depth: int = MAX_JSON_DEPTH) -> dict:
    """The request's JSON object, or a 400 naming the problem (not JSON, not an object,
    nested deeper than ``max_depth``), or a 422 naming a field holding a NUL character, a
    non-finite number or an integer beyond +-2^53."""
    raw = request.get_data(as_text=False)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise BadRequest(f"request body is not valid JSON: {exc}", code="malformed_json")
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", code="malformed_json")
    check_json_values(body, max_depth)
    return body


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(max_depth: int) -> BadRequest:
    return BadRequest(f"request body is nested more than {max_depth} levels deep",
                      errors=[{"field": "_body", "rule": f"at most {max_depth} levels of "
                                                         "nesting"}], code="json_too_deep")


def _check_unicode(text: str, path: str) -> None:
    """JSON's \\ud800-style escapes can name half a character (a lone surrogate), which no
    database or file can store: refuse it here rather than fail later (a 500 once)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise field_error(path or "_body", "must be valid Unicode text (a lone surrogate "
                                           "escape such as \\ud800 is not)") from None


def check_json_values(body, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk a parsed JSON value without recursion: depth (400), then NUL characters,
    non-finite numbers and integers beyond +-2^53 (422 naming the field)."""
    stack = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(max_depth)
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if "\x00" in key:
                    raise field_error(_printable(where), "must not contain NUL characters")
                _check_unicode(key, "_body")
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1)
                         for index, item in enumerate(value))
        elif isinstance(value, str):
            if "\x00" in value:
                raise field_error(path or "_body", "must not contain NUL characters")
            _check_unicode(value, path)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_JSON_INTEGER:
                raise field_error(path or "_body", "number out of range (at most 2^53)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise field_error(path or "_body", "must be a finite number")


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


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, answering an unknown path (404) or method (405) with our JSON
    error body instead of werkzeug's HTML page."""

    def __call__(self, environ, start_response):
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except HTTPException as exc:
            if exc.code is not None and exc.code >= 400:
                response = json_response({"error": exc.name.lower().replace(" ", "_"),
                                          "message": exc.description}, status=exc.code,
                                         headers={"Allow": ", ".join(exc.valid_methods)}
                                         if getattr(exc, "valid_methods", None) else None)
                return response(environ, start_response)
            return exc(environ, start_response)  # a redirect (trailing slash)
        request = Request(environ, shallow=True)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


class GrantflowWebServer(WebServer):
    def start(self):
        """As nameko's, but the port is this process's alone. nameko listens with
        eventlet's default, SO_REUSEPORT: a second process told the same port (another
        stack's service, one left over from before) listened beside the first without an
        error, and the kernel split the connections between them, so some requests were
        answered by the wrong service. Now the second fails at start-up: "Address already
        in use"."""
        if not self._starting:
            self._starting = True
            self._sock = eventlet.listen(self.bind_addr, reuse_port=False)
            self._sock.settimeout(None)  # as nameko: kombu issue 838
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.keepalive = KEEPALIVE_IDLE_SECONDS
        return server


class ApiRoute(HttpRequestHandler):
    """``max_body``: the largest body this route reads, in bytes, or a function of the
    container's config giving it (default :data:`DEFAULT_MAX_BODY`)."""

    server = GrantflowWebServer()

    def __init__(self, method: str, url: str, roles: tuple[str, ...] | None = None,
                 public: bool = False, max_body=DEFAULT_MAX_BODY, **kwargs):
        # a refused request is the caller's error, not ours: nameko logs these as warnings
        kwargs.setdefault("expected_exceptions", (ApiError, ValidationError, AuthError,
                                                  sa_exc.OperationalError))  # a 503, logged once
        super().__init__(method, url, **kwargs)
        self.roles = roles
        self.public = public
        self.max_body = max_body

    def setup(self):
        super().setup()
        config = self.container.config
        self.secret = check_secret(config.get("AUTH_SECRET"), config.get("ENV"))
        check_deployment(config)
        self.policy = TokenPolicy.from_config(config)
        self.body_limit = self.max_body(config) if callable(self.max_body) else self.max_body
        self.keys = None
        if self.method.upper() in idempotency.STATE_CHANGING:
            ttl = timedelta(hours=float((config.get("IDEMPOTENCY") or {}).get("ttl_hours",
                                                                                168)))
            self.keys = _idempotency_store(self.container, ttl)

    # ------------------------------------------------------------------ the request
    def handle_request(self, request):
        started = time.perf_counter()
        request.shallow = False
        claim = None
        try:
            prepare_body(request.environ, self.body_limit)
            check_text_inputs(request.path_values, request.args)
            request.principal = self.authorize(request)
            claim = self.claim_key(request)
            if claim is not None and claim.replay is not None:
                response = replayed(claim.replay, claim.key)
            else:
                response = self.run_worker(request, claim)
                if claim is not None:
                    self.keep_response(claim, response)
        except Exception as exc:
            response = self.response_from_exception(exc)
            if claim is not None and claim.replay is None:
                self.keep_response(claim, response)
        finally:
            if claim is not None:
                claim.release()  # a no-op once the response is kept
        self.observe(request, response, started)
        return response

    def authorize(self, request) -> Principal | None:
        if self.public:
            return None
        principal = authenticate(self.secret, request.headers.get("Authorization"),
                                 self.policy)
        if self.roles and principal.role not in self.roles:
            raise AuthError(403, f"role {principal.role!r} may not call "
                                 f"{self.method} {self.url} (allowed: {', '.join(self.roles)})")
        return principal

    def claim_key(self, request):
        key = request.headers.get(idempotency.HEADER)
        if key is None or self.keys is None:
            return None
        try:
            idempotency.valid_key(key)
        except idempotency.KeyInvalid as exc:
            raise field_error(idempotency.HEADER, str(exc)) from None
        principal = request.principal
        who = f"{principal.role}:{principal.email}" if principal else "public"
        try:
            return self.keys.claim(who, key, request.method, request.full_path,
                                   request.get_data(as_text=False))
        except idempotency.KeyInProgress:
            raise Conflict("a request with this Idempotency-Key is still in progress; "
                           "retry when it has finished", code="idempotency_key_in_progress",
                           errors=[{"field": idempotency.HEADER,
                                    "rule": "in use by a request in progress"}]) from None
        except idempotency.KeyReused:
            raise Unprocessable("this Idempotency-Key was used for another request (method, "
                                "path or body differ); use a new key for a new request",
                                code="idempotency_key_reused",
                                errors=[{"field": idempotency.HEADER,
                                         "rule": "already used for a different request"}]
                                ) from None

    def run_worker(self, request, claim) -> Response:
        """nameko's ``handle_request`` body, with the key's before-commit hook in the
        worker context for the unit of work (``shared.db.provider``)."""
        args, kwargs = self.get_entrypoint_parameters(request)
        self.check_signature(args, kwargs)
        context = {idempotency.BEFORE_COMMIT: claim.record_applied} if claim else {}
        event = Event()
        self.container.spawn_worker(self, args, kwargs, context_data=context,
                                    handle_result=partial(self.handle_result, event))
        return self.response_from_result(event.wait())

    def keep_response(self, claim, response: Response) -> None:
        try:
            claim.finish(response.status_code, response.headers.get("Content-Type"),
                         response.get_data())
        except Exception:
            _log.exception("could not keep the response for an Idempotency-Key")

    def get_entrypoint_parameters(self, request):
        args, kwargs = super().get_entrypoint_parameters(request)
        if not self.public:
            kwargs = {**kwargs, "principal": request.principal}
        return args, kwargs

    def observe(self, request, response: Response, started: float) -> None:
        service = self.container.service_name
        HTTP_REQUESTS.labels(service, self.url, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, self.url).observe(time.perf_counter() - started)
        if 400 <= response.status_code < 500:
            _log.info("refused %s %s: %s %s", self.method, self.url, response.status_code,
                      _refusal_summary(response))

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
            headers = {"Connection": "close"} if exc.status in (411, 413) else None
            if exc.status == 503:
                headers = {"Retry-After": "1"}
            return json_response(body, status=exc.status, headers=headers)
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
        if _database_unavailable(exc):
            # too many clients, a terminated or refused connection, a deadlock: nothing was
            # committed (or the Idempotency-Key answers what was), so asking again is safe
            _log.warning("database unavailable %s in %s %s: %s", error_id, self.method,
                         self.url, str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200])
            return json_response({"error": "database_unavailable",
                                  "message": f"the database is unavailable for a moment; retry "
                                             f"(quote id {error_id} to operations if it lasts)"},
                                 status=503, headers={"Retry-After": "1"})
        _log.error("unhandled error %s in %s %s", error_id, self.method, self.url,
                   exc_info=(type(exc), exc, exc.__traceback__))
        return json_response({"error": "internal_error",
                              "message": f"unexpected error; quote id {error_id} to operations"},
                             status=500)


def _database_unavailable(exc: BaseException) -> bool:
    """A database error a retry may not meet: the DB-API's OperationalError (connection
    refused or ended, too many clients, deadlock, statement timeout), or a connection
    SQLAlchemy found invalidated."""
    return isinstance(exc, sa_exc.OperationalError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)


def _refusal_summary(response: Response) -> str:
    """``error_code (fields a, b)`` of an error response: never its message, which may quote
    the request."""
    try:
        body = json.loads(response.get_data())
        code = str(body.get("error", ""))[:60]
        fields = [str(e.get("field", ""))[:80] for e in (body.get("errors") or [])
                  if isinstance(e, dict)][:10]
    except (ValueError, AttributeError):
        return ""
    return code + (f" (fields {', '.join(fields)})" if fields else "")


def replayed(stored: idempotency.Stored, key: str) -> Response:
    body = stored.body if stored.body is not None else idempotency.lost_response_body(key)
    return Response(body, status=stored.status,
                    content_type=stored.content_type or "application/json",
                    headers={idempotency.REPLAYED_HEADER: "true"})


def _idempotency_store(container, ttl: timedelta):
    """One key store per container, on the engine of its unit-of-work provider."""
    store = getattr(container, "_grantflow_keys", None)
    if store is None:
        provider = next((dep for dep in container.dependencies
                         if hasattr(dep, "session_factory") or hasattr(dep, "migrations")),
                        None)
        if provider is None:
            return None
        store = _LazyStore(provider, ttl)
        container._grantflow_keys = store
    return store


class _LazyStore:
    """The provider's engine exists only after its own ``setup``; ask for it on first use."""

    def __init__(self, provider, ttl: timedelta):
        self.provider = provider
        self.ttl = ttl
        self._store = None

    def claim(self, *args):
        if self._store is None:
            # key locks sized like the service's pool: each request that holds a lock
            # needs one of its connections too, so more would only wait (and the
            # connection budget, deploy/README.md, stays twice the pool, not unbounded)
            pool = self.provider.container.config.get("DB_POOL") or {}
            self._store = idempotency.Store(
                self.provider.engine, self.ttl,
                pool_size=int(pool.get("size", DEFAULT_DB_POOL_SIZE)),
                max_overflow=int(pool.get("max_overflow", DEFAULT_DB_MAX_OVERFLOW)))
        return self._store.claim(*args)


api = ApiRoute.decorator


def metrics_response() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)
