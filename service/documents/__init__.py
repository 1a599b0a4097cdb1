"""From validated form data to stored PDFs: fill (docxtpl), convert (LibreOffice), compose (pikepdf)."""

import hashlib

from .compose import as_pdf17
from .convert import ConversionError
from .fill import TemplateFillError, fill_agreement


def render_agreement(agreement, office, files, pdfa=False, template=None) -> tuple[bytes, bytes]:
    """Fill the agreement once and convert that very .docx; store both. Returns (docx, pdf):
    what the party's page is read from and the PDF it confirms come from one fill."""
    docx = fill_agreement(agreement, template=template)
    pdf = office.convert(docx, pdfa=pdfa)
    if pdfa:
        pdf = as_pdf17(pdf)
    files.put(docx)
    files.put(pdf)
    return docx, pdf


def render_agreement_pdf(agreement, office, files, pdfa=False, template=None) -> tuple[bytes, str]:
    """`render_agreement`'s PDF and its SHA-256."""
    _, pdf = render_agreement(agreement, office, files, pdfa, template)
    return pdf, hashlib.sha256(pdf).hexdigest()


__all__ = ["ConversionError", "TemplateFillError", "render_agreement", "render_agreement_pdf"]
