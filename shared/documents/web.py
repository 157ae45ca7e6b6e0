"""A PDF document as an HTTP answer."""
from __future__ import annotations

from werkzeug.wrappers import Response


def pdf_response(pdf: bytes, filename: str) -> Response:
    """``application/pdf``, shown in the browser, saved under ``filename``."""
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"',
                             "Cache-Control": "private, no-store"})
