"""Field codes and links in a .docx, read the way Word and LibreOffice read them.

A field's instruction may be split over many runs (`<w:instrText>` pieces between a
`begin` and an `end` fldChar), written in any case, nested, or made by Jinja when the
template is filled. So instructions are read from the XML with their pieces joined,
and the field type compared without regard to case.

LibreOffice also fetches whatever an external relationship names when an element uses
it as an image, object or linked part (`<a:blip r:link>`, `r:id` on an OLE object), and
what VML's `o:href`/`src` name. Only a `w:hyperlink` may use an external relationship:
it is followed when a reader clicks it, never by the server.
"""

import io
import re
import zipfile

from lxml import etree

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W_HYPERLINK = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}hyperlink"
VML_NAMESPACES = {"urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:office"}
HYPERLINK_TYPE = REL_NS + "/hyperlink"

# The field types that make Word or LibreOffice read another file or address.
FETCHING = {"INCLUDEPICTURE", "INCLUDETEXT", "INCLUDE", "LINK", "DDE", "DDEAUTO", "IMPORT"}
_FIELD_TYPE = re.compile(r'\s*"?\s*([A-Za-z]+)')


def _attribute(element, name) -> str:
    for key, value in element.attrib.items():
        if etree.QName(key).localname == name:
            return value
    return ""


# Only these elements matter, in whatever namespace: lxml then hands no other element to
# Python, which makes reading a filled agreement several times faster.
_FIELD_ELEMENTS = [f"{{*}}{name}" for name in ("fldSimple", "fldChar", "instrText", "delInstrText")]


def _instructions_in(xml_file) -> list[str]:
    found: list[str] = []
    open_fields: list[list[str]] = []
    parser = etree.iterparse(xml_file, events=("end",), tag=_FIELD_ELEMENTS, resolve_entities=False, no_network=True)
    for _, element in parser:
        name = etree.QName(element).localname
        if name == "fldSimple":
            found.append(_attribute(element, "instr"))
        elif name == "fldChar":
            kind = _attribute(element, "fldCharType")
            if kind == "begin":
                open_fields.append([])
            elif kind == "end" and open_fields:
                found.append("".join(open_fields.pop()))
        elif name in ("instrText", "delInstrText") and open_fields:
            open_fields[-1].append(element.text or "")
    return found + ["".join(pieces) for pieces in open_fields]  # an unterminated field counts too


def field_instructions(docx: bytes) -> list[str]:
    """Every field instruction in every XML part of the document, pieces joined. A part
    without the names of the field elements has none (an element's name cannot be written
    any other way), so only the parts that have them are parsed."""
    instructions = []
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".xml"):
                xml = archive.read(info)
                if b"fldSimple" in xml or b"fldChar" in xml:
                    instructions += _instructions_in(io.BytesIO(xml))
    return instructions


def field_type(instruction: str) -> str:
    match = _FIELD_TYPE.match(instruction)
    return match.group(1).upper() if match else ""


def fetching_fields(docx: bytes) -> list[str]:
    """The field types in the document that would fetch another file, then the addresses
    its links would fetch: what a filled document is checked for before LibreOffice reads it."""
    kinds = sorted({kind for i in field_instructions(docx) if (kind := field_type(i)) in FETCHING})
    return kinds + [target[:80] for target in external_links(docx)]


def _source_part(rels_name: str) -> str:
    """The part a .rels file belongs to: word/_rels/document.xml.rels -> word/document.xml."""
    folder, _, name = rels_name.rpartition("_rels/")
    return folder + name.removesuffix(".rels")


def _external_relationships(archive) -> dict[str, dict[str, tuple[str, str]]]:
    """{part: {relationship id: (type, target)}} for every external relationship."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for info in archive.infolist():
        if info.filename.endswith(".rels"):
            with archive.open(info) as rels:
                for rel in etree.parse(rels, etree.XMLParser(resolve_entities=False, no_network=True)).iter(
                    "{*}Relationship"
                ):
                    if rel.get("TargetMode") == "External":
                        part = found.setdefault(_source_part(info.filename), {})
                        part[rel.get("Id", "")] = (rel.get("Type", ""), rel.get("Target", ""))
    return found


def _links_in(xml_file, external: dict[str, tuple[str, str]]) -> list[str]:
    """Targets an element of this part would fetch: r:link, VML hrefs, and any use of an
    external relationship other than a w:hyperlink's r:id."""
    targets = []
    for _, element in etree.iterparse(xml_file, events=("end",), resolve_entities=False, no_network=True):
        vml = etree.QName(element).namespace in VML_NAMESPACES
        for key, value in element.attrib.items():
            name = etree.QName(key)
            if name.namespace == REL_NS and name.localname == "link":
                targets.append(external.get(value, ("", value))[1])
            elif vml and name.localname in ("href", "src"):
                targets.append(value)
            elif name.namespace == REL_NS and value in external:
                kind, target = external[value]
                if not (element.tag == W_HYPERLINK and name.localname == "id" and kind == HYPERLINK_TYPE):
                    targets.append(target)
        element.clear(keep_tail=True)
    return targets


def external_links(docx: bytes) -> list[str]:
    """Every address the document would make LibreOffice fetch, sorted: external
    relationships other than hyperlinks (used or not), and every linking attribute."""
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        external = _external_relationships(archive)
        targets = [t for rels in external.values() for kind, t in rels.values() if kind != HYPERLINK_TYPE]
        for info in archive.infolist():
            if info.filename.endswith(".xml"):
                with archive.open(info) as xml_file:
                    targets += _links_in(xml_file, external.get(info.filename, {}))
    return sorted(set(targets))
