"""The one logging filter every service's console handler has (``shared.config.LOGGING``).

* E-mail addresses become ``<email:1a2b3c4d>`` (the first 8 hex digits of the SHA-256 of
  the lower-cased address: the same person gives the same mark, so operations can still
  follow one person through the log without reading their address), also URL-encoded ones
  (``a%40b.org``) in eventlet's access-log lines, which include the query string.
* Bearer tokens and anything shaped like a JWT become ``<token>``.
* nameko's own report of an expected (4xx) error is dropped: it is a multi-line traceback
  whose message can hold the whole request body. ``shared.web`` logs every refused request
  as one line instead (method, route, status, error code, fields).

Tracebacks of unexpected errors are masked the same way.
"""
from __future__ import annotations

import hashlib
import logging
import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+",
                    re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/\-]+=*", re.IGNORECASE)
_TOKEN_ARG = re.compile(r"((?:token|access_token|id_token)=)[^&\s\"']+", re.IGNORECASE)


def email_mark(address: str) -> str:
    normal = address.replace("%40", "@").replace("%40".upper(), "@").lower()
    return f"<email:{hashlib.sha256(normal.encode('utf-8')).hexdigest()[:8]}>"


def redact(text: str) -> str:
    """``text`` with e-mail addresses and tokens masked."""
    if not text:
        return text
    text = _JWT.sub("<token>", text)
    text = _BEARER.sub(r"\1<token>", text)
    text = _TOKEN_ARG.sub(r"\1<token>", text)
    return _EMAIL.sub(lambda m: email_mark(m.group(0)), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "nameko.containers" and str(record.msg).startswith("(expected)"):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is rather than lose it
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
