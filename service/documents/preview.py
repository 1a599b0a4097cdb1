"""PDF pages as PNG images (pypdfium2), for previews and the party's page."""

import io
import threading

import pypdfium2 as pdfium

from ..errors import NotFound

# PDFium is one library per process and not thread-safe: every use of it in the process
# (these page pictures, and the party's page renditions in pages.py) holds this one lock.
# It belongs to the process, not to an app: two apps in one process share PDFium too.
pdfium_lock = threading.Lock()


def page_count(pdf: bytes) -> int:
    with pdfium_lock:
        doc = pdfium.PdfDocument(pdf)
        try:
            return len(doc)
        finally:
            doc.close()


def page_png(pdf: bytes, index: int, width_px: int = 900) -> bytes:
    """Page `index` (0-based) rendered `width_px` wide; NotFound if there is no such page."""
    with pdfium_lock:
        doc = pdfium.PdfDocument(pdf)
        try:
            if not 0 <= index < len(doc):
                raise NotFound("Sidan finns inte.")
            page = doc[index]
            scale = width_px / page.get_width()
            image = page.render(scale=scale).to_pil()
        finally:
            doc.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
