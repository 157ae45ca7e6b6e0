"""HTML to PDF with WeasyPrint, for the documents people keep: result letters and the
evaluation summary report.

WeasyPrint lays text out with Pango (Debian: ``libpango-1.0-0``, ``libpangoft2-1.0-0``)
and needs at least one font (``fonts-dejavu-core``); without them importing it fails, and
:class:`DocumentsUnavailable` says which packages to install. Rendering takes about 0.1 s
of CPU per page, so documents are rendered when someone asks for them (a download route),
never for every letter of a milestone.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

#: what WeasyPrint needs from the system (Debian package names)
DEBIAN_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core")
TEMPLATES = Path(__file__).resolve().parent / "templates"


class DocumentsUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: libpango not found
        raise DocumentsUnavailable(
            f"PDF documents need WeasyPrint and Debian's {' '.join(DEBIAN_PACKAGES)} "
            f"(apt-get install {' '.join(DEBIAN_PACKAGES)}): {exc}") from exc
    return weasyprint


def html_to_pdf(html: str, title: str | None = None) -> bytes:
    """A self-contained HTML document (inline CSS, no external resources: nothing is
    fetched while rendering) as PDF bytes."""
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=html, url_fetcher=_no_fetching).render()
    if title:
        document.metadata.title = title
    return document.write_pdf()


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"documents load nothing from outside ({url})")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def text_letter_pdf(subject: str, body: str, sender: str, recipient: str,
                    reference: str) -> bytes:
    """A plain-text letter (as mailed) on a printable page: the same words, escaped,
    line breaks kept, with who wrote it to whom and its reference."""
    html = _environment().get_template("letter.html.j2").render(
        subject=subject, body=body, sender=sender, recipient=recipient, reference=reference)
    return html_to_pdf(html, title=subject)
