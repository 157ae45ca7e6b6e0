"""A part must be what it says it is: a file declared a PDF (by its name ``*.pdf`` or its
media type ``application/pdf``) must start like a PDF, and so on for the other kinds we
can recognise by their first bytes. A part that declares no kind we know is not checked
(the call file names parts, not their formats: calls/README.md, ``admissibility``)."""
from __future__ import annotations

#: kind -> the bytes a file of that kind starts with (its "magic number")
SIGNATURES = {
    "PDF": (b"%PDF",),  # then "-1.x" in a real file; the marker alone is what is checked
    "ZIP (docx, xlsx, odt, ods)": (b"PK\x03\x04", b"PK\x05\x06"),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPEG": (b"\xff\xd8\xff",),
}
_PDF, _ZIP, _PNG, _JPEG = SIGNATURES
EXTENSIONS = {".pdf": _PDF, ".docx": _ZIP, ".xlsx": _ZIP, ".pptx": _ZIP, ".odt": _ZIP,
              ".ods": _ZIP, ".zip": _ZIP, ".png": _PNG, ".jpg": _JPEG, ".jpeg": _JPEG}
MEDIA_TYPES = {
    "application/pdf": _PDF, "application/zip": _ZIP,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.oasis.opendocument.text": _ZIP,
    "application/vnd.oasis.opendocument.spreadsheet": _ZIP,
    "image/png": _PNG, "image/jpeg": _JPEG,
}


def declared_kinds(filename: str, media_type: str | None) -> list[str]:
    """The kinds the upload declares (by file name and by media type)."""
    kinds = []
    dot = filename.rfind(".")
    if dot >= 0 and filename[dot:].lower() in EXTENSIONS:
        kinds.append(EXTENSIONS[filename[dot:].lower()])
    if media_type and media_type.lower() in MEDIA_TYPES:
        kinds.append(MEDIA_TYPES[media_type.lower()])
    return kinds


def mismatch(data: bytes, filename: str, media_type: str | None = None) -> str | None:
    """Why ``data`` is not what it declares itself to be, or None."""
    for kind in declared_kinds(filename, media_type):
        if not data.startswith(SIGNATURES[kind]):
            said = f"named {filename!r}" if filename else f"sent as {media_type}"
            return f"is {said} but its content is not a {kind} file"
    return None
