"""Word constructs whose text the party's page would not show as the PDF shows it.

The party reads the agreement as HTML made from the filled Word file (documents/pages.py),
and confirms the PDF LibreOffice made from that same file. The HTML reader walks paragraphs,
runs, hyperlinks and tables. Text in a tracked change, a field's result, a content control,
a smart tag, custom XML, a text box, a footnote or an embedded document reaches the PDF but
not the page; hidden text reaches the page but not the PDF. So a document holding any of
them is refused, at upload and again after every fill (Jinja's `safe` filter can write XML),
naming the construct and the paragraph where it stands. Page-number fields in headers and
footers are allowed: the page shows neither headers' fields nor footers.
"""

import io
import re
import zipfile

from lxml import etree

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Element (local name in the WordprocessingML namespace) -> what an official calls it.
CONSTRUCTS = {
    "ins": "spårade ändringar (infogad text)",
    "del": "spårade ändringar (borttagen text)",
    "moveFrom": "spårade ändringar (flyttad text)",
    "moveTo": "spårade ändringar (flyttad text)",
    "fldSimple": "en fältkod",
    "fldChar": "en fältkod",
    "sdt": "en innehållskontroll",
    "smartTag": "en smart tagg",
    "customXml": "anpassad XML",
    "txbxContent": "en textruta",
    "vanish": "dold text",
    "specVanish": "dold text",
    "footnoteReference": "en fotnot",
    "endnoteReference": "en slutnot",
    "altChunk": "ett inbäddat dokument",
    "object": "ett inbäddat objekt",
}
PAGE_FIELDS = {"PAGE", "NUMPAGES", "SECTIONPAGES"}
_TEXT_PARTS = re.compile(r"word/(document|header\d*|footer\d*|styles)\.xml")
_HEADER_OR_FOOTER = re.compile(r"word/(header|footer)\d*\.xml")
HOW_TO_FIX = (
    "Det visas inte likadant på partens sida som i PDF:en. Ta bort det i Word (spårade ändringar: "
    "godkänn eller avvisa alla) och ladda upp mallen igen."
)


def unshown_constructs(docx: bytes) -> list[str]:
    """Swedish sentences, one per construct and place, for everything the page would not show
    as the PDF does; empty when the document reads the same in both."""
    found: list[str] = []
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        for info in archive.infolist():
            if _TEXT_PARTS.fullmatch(info.filename):
                with archive.open(info) as part:
                    found += _in_part(part, bool(_HEADER_OR_FOOTER.fullmatch(info.filename)))
    return list(dict.fromkeys(found))


def _in_part(xml_file, header_or_footer: bool) -> list[str]:
    tree = etree.parse(xml_file, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    found = []
    for element in tree.iter(*(W + name for name in CONSTRUCTS)):
        name = etree.QName(element).localname
        if header_or_footer and name in ("fldSimple", "fldChar") and _is_page_field(element):
            continue
        if name in ("vanish", "specVanish") and element.get(W + "val") in ("0", "false", "off"):
            continue
        found.append(f"Mallen innehåller {CONSTRUCTS[name]} {_where(element)}. {HOW_TO_FIX}")
    return found


def _is_page_field(element) -> bool:
    """A page-number field: a fldSimple with such an instruction, or a fldChar of a field whose
    instruction text (in the paragraph) names only page numbers."""
    if etree.QName(element).localname == "fldSimple":
        return _field_type(element.get(W + "instr", "")) in PAGE_FIELDS
    paragraph = _paragraph_of(element)
    instructions = [t.text or "" for t in paragraph.iter(W + "instrText")] if paragraph is not None else []
    return bool(instructions) and all(_field_type(i) in PAGE_FIELDS for i in instructions if i.strip())


def _field_type(instruction: str) -> str:
    words = instruction.split()
    return words[0].upper() if words else ""


def _paragraph_of(element):
    while element is not None and element.tag != W + "p":
        element = element.getparent()
    return element


def _where(element) -> str:
    """Where the construct stands, as an official finds it: the style, or the paragraph's place."""
    if element.getparent() is not None and etree.QName(element.getparent()).localname == "rPr":
        style = element.getparent().getparent()
        if style is not None and style.tag == W + "style":
            return f"i formatmallen ”{style.get(W + 'styleId', '')}”"
    paragraph = _paragraph_of(element)
    if paragraph is None:
        paragraph = next(element.iter(W + "p"), None)
    return place_of(paragraph)


def place_of(paragraph) -> str:
    """A paragraph as an official finds it in Word: its table and row if it is in one, and
    its first words, e.g. 'i tabell 2, rad 3, i stycket som börjar ”För Region…”'."""
    words = " ".join(paragraph_text(paragraph).split()[:8]) if paragraph is not None else ""
    where = f"i stycket som börjar ”{words}”" if words else "i ett stycke utan text"
    row = next((a for a in paragraph.iterancestors(W + "tr")), None) if paragraph is not None else None
    if row is None:
        return where
    table = row.getparent()
    tables = list(table.getroottree().iter(W + "tbl"))
    rows = [r for r in table if r.tag == W + "tr"]
    return f"i tabell {tables.index(table) + 1}, rad {rows.index(row) + 1}, {where}"


def paragraph_text(paragraph) -> str:
    """The paragraph's text as Word shows it: its runs' text joined, however Word split it."""
    return "".join(t.text or "" for t in paragraph.iter(W + "t"))
