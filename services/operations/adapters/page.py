"""The operations page: one self-contained HTML document (template, style and script
inline; no CDN, no build step). It holds no data: its script asks the JSON API with the
bearer token the person gives (or a link's ``#token=`` fragment, which browsers never send
to the server), so tokens never travel in a URL's path or query and never reach a log."""
from __future__ import annotations

import secrets
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from werkzeug.wrappers import Response

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
DEFAULT_REFRESH_MS = 5000

_environment: Environment | None = None


def _templates() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                                   undefined=StrictUndefined)
    return _environment


def render_page(refresh_ms: int = DEFAULT_REFRESH_MS) -> Response:
    """The page, with a fresh nonce that lets only its own style and script run."""
    nonce = secrets.token_urlsafe(18)
    html = _templates().get_template("operations.html.j2").render(
        nonce=nonce, refresh_ms=max(500, int(refresh_ms)))
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


def svg_response(svg: str) -> Response:
    """A plot as a standalone SVG document; its own policy lets it run nothing."""
    return Response(svg, mimetype="image/svg+xml", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'none'; script-src 'none'",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
