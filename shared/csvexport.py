"""CSV exports (ranking lists, assignments, the delivery log): proper CSV, safe to open.

Written with the ``csv`` module (quoting, embedded commas and line breaks). A text cell
that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return: an applicant's acronym or an error message can be anything) is
prefixed with ``'``, as OWASP advises against CSV injection; numbers, amounts and instants
are written as they are. Exports are bounded by their routes (a page of the delivery log,
one call's rankings).
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence

from werkzeug.wrappers import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"


def cell(value: Any) -> str:
    """One value as CSV text: empty for None, ISO 8601 for instants, text made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(item) for item in value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header line with ``columns``, then one line per row (missing keys are empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(name)) for name in columns])
    return out.getvalue()


def csv_response(columns: Sequence[str], rows: Iterable[Mapping[str, Any]],
                 filename: str) -> Response:
    """``text/csv`` offered as a download named ``filename``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in filename)
    return Response(csv_text(columns, rows), content_type=CONTENT_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})
