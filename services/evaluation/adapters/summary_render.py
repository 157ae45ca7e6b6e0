"""Render an Evaluation Summary Report (the dict of :func:`domain.summary.build_summary`)
as a self-contained HTML document: inline CSS, no scripts, no external resources.

Autoescaping is on for every template, whatever its file name (``.html.j2`` would not be
caught by Jinja's extension-based default): comments are free text from evaluators.
Undefined names fail loudly, so a renamed key cannot silently blank a section.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "summary_report.html.j2"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # built on first use, not at import (no file access at import time)
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_summary_html(summary: Mapping[str, Any]) -> str:
    """The HTML document of one summary report."""
    return _environment().get_template(TEMPLATE_NAME).render(report=summary)
