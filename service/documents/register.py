"""The register of every party of an open överenskommelse, "Förteckning över undertecknande
organisationer": as CSV and XLSX for reading in Excel, and as PDF/A-2b for the archive.

The PDF is laid out by Typst, not LibreOffice. LibreOffice needed 2.4 s for a Writer table of 500
rows and 15 s for 2 000 (it grows faster than the rows), so 30 000 rows would take minutes even in
chunks; Typst lays out 1 000 rows in about 0.4 s and writes PDF/A-2b itself (fonts embedded, an
output intent, XMP). Typst keeps every layout it made until its process ends (about 100 MB per
1 000 rows), so each chunk of rows is laid out in a child process of its own.

Chunks end at page breaks, so the joined file reads as one table: a chunk's layout also tells
which row begins its last page, and that page is left out and its rows begin the next chunk. The
page numbers ("sida 7 av 715") are known only then: they are typeset once for the whole file and
laid over its pages. The register is untagged: tags made it 16 times larger, and each chunk's
structure tree has an ID tree of its own that would have to be merged.
"""

import csv
import io
import json
import multiprocessing
import struct
import unicodedata
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pikepdf
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ..errors import Unavailable
from ..formatting import NBSP, local_minute, local_time, short_title, xml_text

TITLE = "Förteckning över undertecknande organisationer"
COLUMNS = ("Organisation", "Organisationsnummer", "Bekräftad av", "Ort", "Bekräftad", "Handling")
NO_PARTIES = "Ännu har ingen organisation undertecknat överenskommelsen."
CHUNK_ROWS = 1500  # Typst takes about 250 MB more for a chunk of this many two-line rows
FONTS = ("Carlito", "DejaVu Sans")  # DejaVu Sans shows what Carlito lacks, and U+FFFD
XMP_PAGES = "{http://ns.adobe.com/xap/1.0/t/pg/}NPages"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_children = multiprocessing.get_context("forkserver")


class RegisterError(Unavailable):
    """A child that lays out the register ended before it was done (out of memory, killed)."""

    message = "Förteckningen över organisationerna kunde inte göras just nu. Försök igen om en stund."


@dataclass(frozen=True)
class RegisterFacts:
    title: str
    registration_number: str  # diarienummer, may be ""
    version_number: int
    frozen_sha256: str  # the frozen text the parties confirmed
    made_at: datetime  # naive UTC


@dataclass(frozen=True)
class RegisterRow:
    organisation: str
    org_number: str
    confirmed_by: str  # "Name, title"
    place: str
    confirmed_at: datetime  # naive UTC
    record: str  # the record holding the confirmation: "Slutligt avtal", "Anslutning 17"


def _texts(row: RegisterRow) -> list[str]:
    """The row's cells as text a document can hold; the moment in Swedish time."""
    return [
        xml_text(row.organisation),
        xml_text(row.org_number),
        xml_text(row.confirmed_by),
        xml_text(row.place),
        local_minute(row.confirmed_at),
        xml_text(row.record),
    ]


# --- CSV and XLSX ---


def _no_formula(text: str) -> str:
    """Excel runs a cell that starts like a formula (`=HYPERLINK(...)`): an apostrophe first keeps it text."""
    return "'" + text if text.startswith(FORMULA_START) else text


def register_csv(facts: RegisterFacts, rows: Iterable[RegisterRow]) -> bytes:
    """The parties as a table only (headings, then one line a party), for Excel on Swedish
    Windows: UTF-8 with a byte order mark, ';' between fields. The agreement is named by the file."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_no_formula(text) for text in _texts(row)])
    return ("\ufeff" + out.getvalue()).encode()


def _text_cell(sheet, text, bold=False):
    cell = WriteOnlyCell(sheet, text)
    cell.data_type = "s"  # text, even when it starts with '=' (openpyxl would store a formula)
    if bold:
        cell.font = Font(bold=True)
    return cell


def register_xlsx(facts: RegisterFacts, rows: Iterable[RegisterRow]) -> bytes:
    """Sheet "Parter": the table, one row a party, the confirmation as a date and time in Swedish
    time; sheet "Om förteckningen": the agreement, its version and when the register was made."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Parter")
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (40, 20, 40, 20, 18, 20)):
        sheet.column_dimensions[letter].width = width
    sheet.append([_text_cell(sheet, heading, bold=True) for heading in COLUMNS])
    for row in rows:
        texts = _texts(row)
        moment = WriteOnlyCell(sheet, local_time(row.confirmed_at).replace(tzinfo=None))
        moment.number_format = "yyyy-mm-dd hh:mm"
        sheet.append([*(_text_cell(sheet, t) for t in texts[:4]), moment, _text_cell(sheet, texts[5])])

    about = book.create_sheet("Om förteckningen")
    about.column_dimensions["A"].width = 30
    about.column_dimensions["B"].width = 70
    for label, value in _fact_lines(facts):
        about.append([_text_cell(about, label, bold=True), _text_cell(about, value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fact_lines(facts: RegisterFacts) -> list[tuple[str, str]]:
    lines = [("Överenskommelse", xml_text(facts.title))]
    if facts.registration_number:
        lines.append(("Diarienummer", xml_text(facts.registration_number)))
    lines += [
        ("Avtalstextens version", str(facts.version_number)),
        ("SHA-256 för avtalstexten", facts.frozen_sha256),
        ("Förteckningen upprättad", f"{local_minute(facts.made_at)} (svensk tid)"),
    ]
    return lines


# --- PDF ---

TYPST_PAGE = r"""
#let d = json(bytes(sys.inputs.data))
#set document(title: d.title_line)
#set text(lang: "sv", font: d.fonts, size: 8.5pt)
#set page(
  paper: "a4", flipped: true, margin: (x: 1.6cm, top: 2cm, bottom: 1.8cm),
  header: text(size: 7.5pt, fill: luma(80))[#d.header #h(1fr) #d.header_right],
)
"""

TYPST_CHUNK = (
    TYPST_PAGE
    + r"""
#set table.cell(breakable: false)
#if d.facts != none [
  #text(size: 15pt, weight: "bold")[#d.title_line]
  #v(4pt)
  #grid(columns: (auto, 1fr), column-gutter: 10pt, row-gutter: 5pt,
    ..d.facts.map(((label, value)) => (strong(label), value)).flatten())
  #v(8pt)
]
#if d.rows.len() == 0 [
  #d.no_parties
] else {
  table(
    columns: (3fr, 1.4fr, 3fr, 1.5fr, 1.4fr, 1.5fr),
    stroke: 0.4pt + luma(140), inset: (x: 4pt, y: 3pt),
    table.header(..d.columns.map(c => strong(c))),
    ..d.rows.map(((n, ..cells)) => ([#metadata(n)<row>#cells.first()], ..cells.slice(1))).flatten(),
  )
}
#context [#metadata((
  pages: here().page(),
  last_page_first_row: query(<row>).filter(m => m.location().page() == here().page())
    .map(m => m.value).at(0, default: none),
))<end>]
"""
)

# Only the page numbers, on as many empty pages as the register has, laid over its pages.
TYPST_PAGE_NUMBERS = (
    TYPST_PAGE
    + r"""
#set page(header: none, footer: context text(size: 7.5pt, fill: luma(80))[#h(1fr) sida #here().page() av #d.total])
#for _ in range(d.total - 1) { pagebreak() }
"""
)


@dataclass(frozen=True)
class _Chunk:
    pdf: bytes
    pages: int  # its pages that belong to the register (the rest begin the next chunk)


def register_pdf(facts: RegisterFacts, rows: Iterable[RegisterRow], office=None) -> bytes:
    """The register as PDF/A-2b (unsealed: the caller seals it). `office` is not needed: the
    register is laid out without LibreOffice (see the module's note)."""
    try:
        return _join(*_typeset(facts, rows))
    except BrokenProcessPool:
        raise RegisterError() from None


def _typeset(facts: RegisterFacts, rows: Iterable[RegisterRow]) -> tuple[list[_Chunk], bytes]:
    """The chunks' PDFs and the page numbers' PDF."""
    texts = [[n, *(_shown(t) for t in _texts(row))] for n, row in enumerate(rows)]
    inputs = _inputs(facts)
    moment = int(facts.made_at.replace(tzinfo=UTC).timestamp())
    chunks: list[_Chunk] = []
    # One chunk at a time (each begins where the last one's layout ended); the second process
    # is the next one, started while this one works, since a child lays out one chunk only.
    with ProcessPoolExecutor(2, mp_context=_children, max_tasks_per_child=1) as children:
        start = 0
        while start < len(texts) or not chunks:
            end = min(start + CHUNK_ROWS, len(texts))
            chunk_inputs = dict(inputs, facts=inputs["facts"] if not chunks else None, rows=texts[start:end])
            pdf, layout = children.submit(_typeset_chunk, chunk_inputs, moment).result()
            carry = layout["last_page_first_row"]
            if end < len(texts) and layout["pages"] > 1 and carry is not None and carry > start:
                chunks.append(_Chunk(pdf, layout["pages"] - 1))  # the last page's rows begin the next chunk
                start = carry
            else:
                chunks.append(_Chunk(pdf, layout["pages"]))
                start = end
        total = sum(c.pages for c in chunks)
        numbers = children.submit(_typeset_page_numbers, dict(inputs, total=total), moment).result()
    return chunks, numbers


def _inputs(facts: RegisterFacts) -> dict:
    title = _shown(xml_text(facts.title))
    dnr = _shown(xml_text(facts.registration_number))
    lines = [["Överenskommelse", title]]
    if dnr:
        lines.append(["Diarienummer", dnr])
    lines += [
        ["Avtalstext", f"version {facts.version_number}, SHA-256 {facts.frozen_sha256}"],
        ["Upprättad", f"{local_minute(facts.made_at)} (svensk tid)"],
    ]
    return {
        "title_line": TITLE,
        "header": f"{TITLE} · {short_title(title)}",
        "header_right": f"Dnr {dnr}" if dnr else "",
        "fonts": list(FONTS),
        "columns": list(COLUMNS),
        "no_parties": NO_PARTIES,
        "facts": lines,
    }


def _typeset_chunk(inputs: dict, moment: int) -> tuple[bytes, dict]:
    """In a child process: a chunk's PDF/A-2b, and from the same layout its number of pages and
    the first row on its last page."""
    compiler = _compiler(TYPST_CHUNK, inputs)
    layout = json.loads(compiler.query("<end>", field="value", one=True))
    return _pdf(compiler, TYPST_CHUNK, moment), layout


def _typeset_page_numbers(inputs: dict, moment: int) -> bytes:
    """In a child process: the page numbers' PDF/A-2b."""
    return _pdf(_compiler(TYPST_PAGE_NUMBERS, inputs), TYPST_PAGE_NUMBERS, moment)


def _compiler(source: str, inputs: dict):
    import typst  # in the child: Typst keeps every layout it made until the process ends

    return typst.Compiler(source.encode(), sys_inputs={"data": json.dumps(inputs)})


def _pdf(compiler, source: str, moment: int) -> bytes:
    pdf = compiler.compile(input=source.encode(), pdf_standards=["a-2b"], pdf_tags=False, timestamp=moment)
    assert isinstance(pdf, bytes)
    return pdf


def _join(chunks: list[_Chunk], numbers: bytes) -> bytes:
    """The chunks' pages in one file, each with its page number laid over it; the first chunk's
    catalog (output intent, XMP) describes the whole."""
    with ExitStack() as stack:
        base = stack.enter_context(pikepdf.open(io.BytesIO(chunks[0].pdf)))
        del base.pages[chunks[0].pages :]
        for chunk in chunks[1:]:
            part = stack.enter_context(pikepdf.open(io.BytesIO(chunk.pdf)))  # open until saved
            base.pages.extend(part.pages[: chunk.pages])
        footers = stack.enter_context(pikepdf.open(io.BytesIO(numbers)))
        for page, footer in zip(base.pages, footers.pages, strict=True):
            page.add_overlay(footer, pikepdf.Rectangle(page.mediabox))
        with base.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta[XMP_PAGES] = str(len(base.pages))
        out = io.BytesIO()
        base.save(out, deterministic_id=True)
        return out.getvalue()


# --- characters the fonts can show ---


def _shown(text: str) -> str:
    """Text whose every character the register's fonts have a glyph for; others become U+FFFD
    (PDF/A forbids a missing glyph, and Typst refuses to write one)."""
    covered = _covered()
    return "".join(c if ord(c) in covered or _invisible(c) else "\ufffd" for c in text)


def _invisible(char: str) -> bool:
    """Format characters (bidi marks, joiners) and spaces, which take no glyph from the font."""
    return unicodedata.category(char) == "Cf" or char in " \n\t" + NBSP


@cache
def _covered() -> frozenset[int]:
    import typst

    paths = {Path(f.path) for f in typst.Fonts().fonts() if f.family in FONTS and f.path}
    return frozenset().union(*(_cmap(path) for path in paths))


def _cmap(path: Path) -> set[int]:
    """The code points a TrueType font maps to a glyph (its cmap's format 4 and 12 subtables)."""
    data = path.read_bytes()
    (tables,) = struct.unpack_from(">H", data, 4)
    offsets = {}
    for i in range(tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        offsets[tag] = offset
    cmap = offsets[b"cmap"]
    codes: set[int] = set()
    (subtables,) = struct.unpack_from(">H", data, cmap + 2)
    for i in range(subtables):
        _, _, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        codes |= _subtable(data, cmap + offset)
    return codes


def _subtable(data: bytes, at: int) -> set[int]:
    (form,) = struct.unpack_from(">H", data, at)
    codes: set[int] = set()
    if form == 4:
        (double_segments,) = struct.unpack_from(">H", data, at + 6)
        segments = double_segments // 2
        ends = struct.unpack_from(f">{segments}H", data, at + 14)
        starts = struct.unpack_from(f">{segments}H", data, at + 16 + double_segments)
        for start, end in zip(starts, ends):
            if start != 0xFFFF:
                codes.update(range(start, end + 1))
    elif form == 12:
        (groups,) = struct.unpack_from(">I", data, at + 12)
        for g in range(groups):
            start, end, _ = struct.unpack_from(">III", data, at + 16 + 12 * g)
            codes.update(range(start, end + 1))
    return codes
