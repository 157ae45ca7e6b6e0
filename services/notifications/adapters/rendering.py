"""Render a notification's template into (subject, body) text with Jinja2.

Templates live in ``services/notifications/templates/<name>.txt.j2``; each extends
``_layout.txt.j2`` and defines a one-line ``subject`` block and a ``body`` block. Bodies are
plain text, so autoescaping is off; subjects become a mail header, so every control
character (CR and LF included) is folded to a space and a subject can never start a new
header. A variable missing from the context is an error, never a blank in a letter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import (Environment, FileSystemLoader, StrictUndefined, TemplateError,
                    TemplateNotFound, UndefinedError)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
SUFFIX = ".txt.j2"
MAX_SUBJECT = 250  # RFC 5322 advises lines under 78 chars, mail clients cut long ones anyway

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class RenderError(Exception):
    """A template could not be rendered with the context it was given."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def make_environment(directory: Path = TEMPLATE_DIR) -> Environment:
    """The Jinja2 environment for notification templates (no file is read until used)."""
    return Environment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                       autoescape=False, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


@lru_cache(maxsize=1)
def default_environment() -> Environment:
    return make_environment()


def template_names(env: Environment | None = None) -> list[str]:
    """Names of the renderable templates (the layout and partials start with ``_``)."""
    env = env or default_environment()
    return sorted(name[:-len(SUFFIX)] for name in env.list_templates()
                  if name.endswith(SUFFIX) and not name.startswith("_"))


def render(template: str, context: Mapping[str, Any],
           env: Environment | None = None) -> Rendered:
    """Render ``template`` (a name from ``notification.TEMPLATES``) with ``context``.

    Raises RenderError naming the template and the problem (unknown template, missing
    variable, no subject block, empty subject)."""
    env = env or default_environment()
    try:
        compiled = env.get_template(template + SUFFIX)
        if "subject" not in compiled.blocks:
            raise RenderError(f"template {template!r} has no subject block")
        raw_subject = "".join(compiled.blocks["subject"](compiled.new_context(dict(context))))
        body = compiled.render(dict(context))
    except TemplateNotFound as exc:
        raise RenderError(f"no template named {template!r} in {TEMPLATE_DIR}") from exc
    except UndefinedError as exc:
        raise RenderError(f"template {template!r} needs a value the context lacks: "
                          f"{exc.message}") from exc
    except TemplateError as exc:
        raise RenderError(f"template {template!r} failed: {exc}") from exc
    subject = clean_subject(raw_subject)
    if not subject:
        raise RenderError(f"template {template!r} rendered an empty subject")
    return Rendered(subject=subject, body=tidy_body(body))


def clean_subject(text: str) -> str:
    """One header-safe line: control characters and runs of spaces become one space."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= MAX_SUBJECT else line[:MAX_SUBJECT - 3].rstrip() + "..."


def tidy_body(text: str) -> str:
    """No leading blank lines, no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).rstrip("\n") + "\n"
