"""Printable documents: HTML rendered to PDF with WeasyPrint (see :mod:`.pdf`)."""
from shared.documents.pdf import DocumentsUnavailable, html_to_pdf, text_letter_pdf

__all__ = ["DocumentsUnavailable", "html_to_pdf", "text_letter_pdf"]
