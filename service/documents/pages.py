"""What a party reads, made once per frozen version: page images and an HTML rendition.

Both are made from the same sources as the frozen PDF: the images from the PDF itself,
the HTML from the filled Word document LibreOffice converted. They are stored by
SHA-256 like every other file; a view only reads them. The images are palette PNGs
(16 greys: text pages compress better so than as WebP) at two widths for `srcset`.
"""

import io
import re

import pypdfium2 as pdfium
from docx import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from markupsafe import Markup, escape
from PIL import Image

from .preview import pdfium_lock

WIDTHS = (640, 1280)  # CSS pixels on a desktop column; twice that for phones and sharp screens
GREYS = 16

_HEADING = re.compile(r"(?:heading|rubrik)\s*(\d)", re.IGNORECASE)
_LIST_STYLE = re.compile(r"list|lista|punkt", re.IGNORECASE)


def render_pages(pdf: bytes) -> list[dict]:
    """Every page at each width as a palette PNG: [{"width": w, "height": h, "png": {w: bytes}}]."""
    images = []
    with pdfium_lock:  # PDFium is not thread-safe; encoding happens outside the lock
        doc = pdfium.PdfDocument(pdf)
        try:
            for page in doc:
                images.append({w: page.render(scale=w / page.get_width(), grayscale=True).to_pil() for w in WIDTHS})
        finally:
            doc.close()
    pages = []
    for rendered in images:
        small = rendered[WIDTHS[0]]
        pages.append({"width": small.width, "height": small.height, "png": {w: _png(im) for w, im in rendered.items()}})
    return pages


# Each of 256 greys to the nearest of GREYS even levels, and those levels as a palette: a table
# lookup, where PIL's quantize searched for a palette per image (most of a sending's time).
_GREY_LEVEL = [round(grey * (GREYS - 1) / 255) for grey in range(256)]
_GREY_PALETTE = [round(level * 255 / (GREYS - 1)) for level in range(GREYS) for _ in "rgb"]


def _png(image) -> bytes:
    """A 4-bit palette PNG of the page in GREYS even greys."""
    levels = image.convert("L").point(_GREY_LEVEL)
    paletted = Image.frombytes("P", levels.size, levels.tobytes())
    paletted.putpalette(_GREY_PALETTE)
    out = io.BytesIO()
    paletted.save(out, format="PNG", bits=4)
    return out.getvalue()


# --- the HTML rendition ---


def docx_html(docx: bytes) -> str:
    """The document as HTML: its page header once, then headings by style, paragraphs,
    lists and tables. Headings start at <h3>: the party's page has its own <h1> and <h2>.
    Fields (page numbers) and page footers are left out: they are made at layout time
    for each page and are not agreement text. Every piece of text is escaped.
    """
    document = Document(io.BytesIO(docx))
    numbering = Numbering(document)
    return "\n".join([*_page_header(document), *_blocks(document.element.body, document, numbering)])


def _page_header(document) -> list[str]:
    """What the page header says (once, not per page), as one line."""
    texts = []
    for section in document.sections:
        header = section.header
        for element in header._element.iter(qn("w:p")):
            text = _inline(Paragraph(element, header)).strip()
            if text and text not in texts:
                texts.append(text)
    return [f'<p class="doc-header">{" · ".join(texts)}</p>'] if texts else []


def _blocks(container, parent, numbering) -> list[str]:
    out: list[str] = []
    list_items: list[str] = []

    def close_list():
        if list_items:
            out.append("<ul>" + "".join(list_items) + "</ul>")
            list_items.clear()

    for child in _block_elements(container):
        if child.tag == qn("w:tbl"):
            close_list()
            out.append(_table(Table(child, parent), numbering))
            continue
        paragraph = Paragraph(child, parent)
        label = numbering.label(paragraph)  # counted even when the paragraph is empty, as Word does
        content = _inline(paragraph)
        if not content.strip():
            continue
        if label:
            content = f'<span class="doc-num">{escape(label)}</span> {content}'
        if _is_list_item(paragraph):
            list_items.append(f'<li class="doc-numbered">{content}</li>' if label else f"<li>{content}</li>")
            continue
        close_list()
        out.append(_paragraph(paragraph, content))
    close_list()
    return out


def _block_elements(container):
    """Paragraphs and tables in document order, looking inside content controls."""
    for child in container.iterchildren():
        if child.tag in (qn("w:p"), qn("w:tbl")):
            yield child
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _block_elements(content)


def _style_name(paragraph) -> str:
    style = _style(paragraph)
    return (style.name or "") if style is not None else ""


def _is_list_item(paragraph) -> bool:
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    return numbered or bool(_LIST_STYLE.search(_style_name(paragraph)))


def _paragraph(paragraph, content) -> str:
    style = _style_name(paragraph)
    heading = _HEADING.fullmatch(style.strip())
    if heading:
        level = min(int(heading.group(1)) + 2, 6)
        return f"<h{level}>{content}</h{level}>"
    if style.lower() in ("title", "rubrik"):
        return f'<p class="doc-title">{content}</p>'
    css = re.sub(r"[^a-z0-9]+", "-", style.lower()).strip("-")
    return f'<p class="doc-{css}">{content}</p>' if css and css != "normal" else f"<p>{content}</p>"


def _inline(paragraph) -> str:
    """Runs and hyperlinks' text, bold and italic kept, line breaks as <br>, fields left out."""
    parts, in_field = [], False
    for item in paragraph.iter_inner_content():
        runs = item.runs if hasattr(item, "runs") else [item]
        for run in runs:
            for mark in run._r.iter(qn("w:fldChar")):
                in_field = mark.get(qn("w:fldCharType")) != "end"
            if in_field:
                continue
            text = str(escape(run.text)).replace("\n", "<br>").replace("\t", " ")
            if not text:
                continue
            if run.bold:
                text = f"<strong>{text}</strong>"
            if run.italic:
                text = f"<em>{text}</em>"
            parts.append(text)
    return "".join(parts)


def _table(table, numbering) -> str:
    rows = []
    for row in table.rows:
        cells = "".join("<td>" + "\n".join(_blocks(cell._tc, cell, numbering)) + "</td>" for cell in _unique_cells(row))
        rows.append(f"<tr>{cells}</tr>")
    return '<div class="doc-table"><table>' + "".join(rows) + "</table></div>"


class Numbering:
    """The labels Word and LibreOffice print before numbered paragraphs ('1.', 'a)', 'II.'), counted
    as they count them, so the page shows the numbers the PDF prints. Bullets have no label."""

    def __init__(self, document):
        root = document.part.numbering_part.element
        abstract = {a.get(qn("w:abstractNumId")): a for a in root.iterchildren(qn("w:abstractNum"))}
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        for num in root.iterchildren(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            definition = abstract.get(ref.get(qn("w:val")) if ref is not None else None)
            levels = {} if definition is None else _levels(definition)
            for override in num.iterchildren(qn("w:lvlOverride")):
                start = override.find(qn("w:startOverride"))
                ilvl = int(override.get(qn("w:ilvl"), "0"))
                if start is not None and ilvl in levels:
                    levels[ilvl] = (*levels[ilvl][:2], int(start.get(qn("w:val"))))
            self.levels[num.get(qn("w:numId"))] = levels
        self.counters: dict[str, dict[int, int]] = {}

    def label(self, paragraph) -> str:
        """The paragraph's label, counting it; '' for a paragraph that is not numbered."""
        num_id, ilvl = _numbering_of(paragraph)
        levels = self.levels.get(num_id)
        if not levels or ilvl not in levels:
            return ""
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][2] - 1) + 1
        for deeper in [level for level in counters if level > ilvl]:
            del counters[deeper]
        fmt, text, _ = levels[ilvl]
        if fmt in ("bullet", "none"):
            return ""
        for level in range(ilvl + 1):
            if level in levels:
                value = counters.get(level, levels[level][2])
                text = text.replace(f"%{level + 1}", _number(value, levels[level][0]))
        return text


def _levels(definition) -> dict[int, tuple[str, str, int]]:
    levels = {}
    for lvl in definition.iterchildren(qn("w:lvl")):
        values = {}
        for name in ("numFmt", "lvlText", "start"):
            element = lvl.find(qn(f"w:{name}"))
            values[name] = element.get(qn("w:val")) if element is not None else None
        start = values["start"] or "1"
        levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
            values["numFmt"] or "decimal",
            values["lvlText"] or "",
            int(start) if start.isdigit() else 1,
        )
    return levels


def _numbering_of(paragraph) -> tuple[str, int]:
    """(numId, level) of a paragraph: its own numbering, or its style's (a numbered heading)."""
    sources = [paragraph._p.pPr]
    style = _style(paragraph)
    while style is not None:
        sources.append(style.element.pPr)
        style = style.base_style
    for pPr in sources:
        if pPr is not None and pPr.numPr is not None and pPr.numPr.numId is not None:
            level = pPr.numPr.ilvl.val if pPr.numPr.ilvl is not None else 0
            return str(pPr.numPr.numId.val), level
    return "", 0


def _style(paragraph):
    try:
        return paragraph.style
    except (KeyError, AttributeError):  # a style id the document does not define
        return None


_ROMAN = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl")]
_ROMAN += [(10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]


def _number(value: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = ""
        for amount, digits in _ROMAN:
            count, value = divmod(value, amount)
            roman += digits * count
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt == "decimalZero":
        return f"{value:02d}"
    return str(value)


def _unique_cells(row):
    """A merged cell is listed once per grid column it spans; show it once."""
    seen = set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            yield cell


def make_rendition(files, pdf: bytes, docx: bytes) -> dict:
    """Render and store the images and the HTML; returns what a Rendition row records."""
    pages = [
        {"width": p["width"], "height": p["height"], "png": {str(w): files.put(png) for w, png in p["png"].items()}}
        for p in render_pages(pdf)
    ]
    return {"html_sha256": files.put(docx_html(docx).encode("utf-8")), "pages": pages}


def stored_html(files, sha256: str) -> Markup:
    """A stored rendition's HTML, safe to insert: every text in it was escaped when made."""
    return Markup(files.get(sha256).decode("utf-8"))
