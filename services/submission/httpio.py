"""Reading requests and shaping the few responses that are not JSON, for the entrypoints
of ``service.py`` (so each of them stays a few lines of translation)."""
from __future__ import annotations

from urllib.parse import quote

from marshmallow import Schema
from werkzeug.wrappers import Response

from services.submission.handlers.common import invalid, request_seed
from services.submission.handlers.proposals import DEFAULT_PART_LIMIT, too_large
from services.submission.schemas import CallLoadSchema
from shared.idempotency import HEADER
from shared.web import BadRequest, json_body

_SCHEMAS: dict[type, Schema] = {}


def load(schema: type[Schema], request) -> dict:
    """The JSON body loaded with ``schema`` (400 if not JSON, 422 per bad field)."""
    if schema not in _SCHEMAS:
        _SCHEMAS[schema] = schema()
    return _SCHEMAS[schema].load(json_body(request))


def call_source(request) -> str:
    """POST /calls: the YAML text as the raw body, or JSON ``{"yaml": "..."}``."""
    if request.mimetype == "application/json":
        return load(CallLoadSchema, request)["yaml"]
    try:
        text = request.get_data(as_text=False).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the call document is not UTF-8 text: {exc}",
                         code="malformed_body") from None
    if not text.strip():
        raise invalid("_body", 'send the call file as the body (YAML), or JSON {"yaml": TEXT}')
    return text


def part_body_limit(config: dict) -> int:
    """The largest body of ``PUT .../parts/<name>``: one part (``SUBMISSION.part_max_bytes``)."""
    return int((config.get("SUBMISSION") or {}).get("part_max_bytes", DEFAULT_PART_LIMIT))


def form_body_limit(config: dict) -> int:
    """The largest JSON body of a create or edit: the form and a few parts in base64."""
    return 4 * (part_body_limit(config) // 3 + 1) * 4 + 1024 * 1024


def raw_part(request, limit: int) -> tuple[bytes, str, str | None]:
    """PUT /proposals/<id>/parts/<name>: the bytes of the body (``shared.web`` has bounded
    it and read a chunked one already), the file name (``?filename=`` or ``X-Filename``)
    and the declared media type (``Content-Type``)."""
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise too_large("_body", limit)
    if not data:
        raise invalid("_body", "a part must not be empty: send the file as the body")
    filename = request.args.get("filename") or request.headers.get("X-Filename", "")
    if len(filename) > 255 or "\x00" in filename:
        raise invalid("filename", "must be at most 255 characters, without NUL")
    declared = request.mimetype if request.mimetype not in ("", "application/octet-stream") \
        else None
    return data, filename, declared


def int_arg(request, name: str, default: int | None = None, minimum: int = 0,
            maximum: int = 1_000_000) -> int | None:
    """An integer query argument, or 400 naming it."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise BadRequest(f"query argument {name}: must be a whole number from {minimum} to "
                         f"{maximum}", errors=[{"field": name, "rule": f"whole number from "
                                                f"{minimum} to {maximum}"}],
                         code="bad_query")
    return value


def download(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def id_seed(request, principal, config: dict, purpose: str) -> bytes | None:
    """The seed of a created thing's id from the request's Idempotency-Key
    (:func:`.handlers.common.request_seed`), keyed with the service's secret."""
    return request_seed(config.get("AUTH_SECRET") or "", principal.email,
                        request.headers.get(HEADER), purpose)
