"""What the party reads is what it confirms: the words of the party's page and of the frozen PDF.

At freezing, the words of the HTML rendition are compared with the words of the PDF's text
layer, in order, both ways: every word of one must stand in the other at the same place. Only
page furniture is left out: the PDF's running header and footer (outside the page's text area,
as the Word file's margins give it) and the page's one line that says what the header says.
A word is a run of letters and digits, compared without regard to case (a template may set
capitals by format); punctuation and list bullets are not words.
"""

import io
import re
from html import unescape

import pypdfium2 as pdfium
from docx import Document

from .preview import pdfium_lock

_WORD = re.compile(r"\w+")
_PAGE_HEADER = re.compile(r'<p class="doc-header">.*?</p>', re.DOTALL)
_INLINE_TAG = re.compile(r"</?(?:strong|em|span)\b[^>]*>")  # within a word: 'var<strong>je</strong>'
_TAG = re.compile(r"<[^>]+>")  # between blocks, cells and lines
CONTEXT_WORDS = 6
WORD_MARGIN = 72.0  # points: Word's margin where a document states none


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def html_words(html: str) -> list[str]:
    """The words a party reads on its page, without the page header line."""
    return words(unescape(_TAG.sub(" ", _INLINE_TAG.sub("", _PAGE_HEADER.sub(" ", html)))))


def text_area(docx: bytes) -> tuple[float, float]:
    """The top and bottom margins of the document's first section, in points: what lies
    outside them on a page is the running header and footer."""
    section = Document(io.BytesIO(docx)).sections[0]
    top, bottom = section.top_margin, section.bottom_margin
    return (top.pt if top is not None else WORD_MARGIN), (bottom.pt if bottom is not None else WORD_MARGIN)


def pdf_words(pdf: bytes, margins: tuple[float, float]) -> list[str]:
    """The words of the PDF's text layer inside each page's text area, page after page."""
    top, bottom = margins
    texts = []
    with pdfium_lock:  # PDFium is not thread-safe
        document = pdfium.PdfDocument(pdf)
        try:
            for page in document:
                width, height = page.get_size()
                texts.append(page.get_textpage().get_text_bounded(0, bottom, width, height - top))
        finally:
            document.close()
    return words("\n".join(texts))


def first_difference(shown: list[str], printed: list[str]) -> str | None:
    """None when both hold the same words in the same order; else a Swedish sentence naming
    the first place they part."""
    if shown == printed:
        return None
    index = next((i for i, (a, b) in enumerate(zip(shown, printed)) if a != b), min(len(shown), len(printed)))
    before = " ".join(shown[max(0, index - CONTEXT_WORDS) : index])
    on_page = " ".join(shown[index : index + 3]) or "(inget mer)"
    in_pdf = " ".join(printed[index : index + 3]) or "(inget mer)"
    where = f"efter ”{before}”" if before else "i början"
    return (
        f"Texten på partens sida och i PDF:en skiljer sig åt {where}: sidan visar ”{on_page}”, "
        f"PDF:en har ”{in_pdf}”. Avtalet skickades inte. Kontrollera mallen (dold text, fält, "
        "textrutor eller numrerade listor) och försök igen."
    )


def difference(html: str, pdf: bytes, docx: bytes) -> str | None:
    """The first difference between the party's page (`html`, read from `docx`) and `pdf`."""
    return first_difference(html_words(html), pdf_words(pdf, text_area(docx)))
