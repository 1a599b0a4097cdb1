"""Assemble the final PDF with pypdf, keeping it PDF/A.

pypdf's plain merge drops the PDF/A identification (XMP metadata) and the output
intent. Cloning the first part, which LibreOffice exported as PDF/A-2b, keeps its
document catalog, and with it both; the other parts' pages are appended to it.
"""

import io

from pypdf import PdfReader, PdfWriter
from pypdf.generic import TextStringObject


def merge_pdfs(parts: list[bytes], attachments: dict[str, bytes] | None = None) -> bytes:
    """Merge PDF/A parts into one PDF/A, optionally embedding files (PDF/A-2 allows PDF/A files)."""
    first = PdfReader(io.BytesIO(parts[0]))
    writer = PdfWriter(clone_from=first)
    for part in parts[1:]:
        writer.append(PdfReader(io.BytesIO(part)))
    for name, data in (attachments or {}).items():
        embedded = writer.add_attachment(name, data)
        embedded.alternative_name = TextStringObject(name)  # PDF/A-2 wants /UF beside /F
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
