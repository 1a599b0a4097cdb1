"""From validated form data to stored PDFs: fill (docxtpl), convert (LibreOffice), assemble (pypdf)."""

from .convert import ConversionError
from .fill import TemplateFillError, fill_agreement


def render_agreement_pdf(agreement, office, files, pdfa=False, template=None) -> tuple[bytes, str]:
    """Fill and convert the agreement; store the .docx and the PDF. Returns (pdf, sha256)."""
    docx = fill_agreement(agreement, template=template)
    pdf = office.convert(docx, pdfa=pdfa)
    files.put(docx)
    return pdf, files.put(pdf)


__all__ = ["ConversionError", "TemplateFillError", "render_agreement_pdf"]
