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
VML_NS, OFFICE_NS = "urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:office"
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


_REL_ATTRIBUTES = etree.XPath("//@*[namespace-uri() = $ns]")
_VML_SOURCES = etree.XPath(
    "//*[namespace-uri() = $vml or namespace-uri() = $office]/@*[local-name() = 'href' or local-name() = 'src']"
)
_DECLARATION = rb"""xmlns(?::([\w.-]+))?\s*=\s*["']%s["']"""


def _prefixes(raw: bytes, uri: str) -> list[bytes]:
    """The prefixes a part binds to `uri` (b"" for a default namespace), read from its bytes."""
    return re.findall(_DECLARATION % re.escape(uri.encode()), raw)


def _may_link(raw: bytes) -> bool:
    """Whether a part can hold a linking attribute at all, read from its bytes: an attribute whose
    prefix is bound to the relationships namespace, or a VML element. A character reference or a
    DTD could spell a name otherwise, so either sends the part to the parser. Word's style parts
    (hundreds of kB, in every document) declare these namespaces and never use them."""
    if b"&#" in raw or b"<!" in raw:
        return True
    if any(re.search(rb"\s" + re.escape(p) + rb":[\w.-]+\s*=", raw) for p in _prefixes(raw, REL_NS) if p):
        return True
    vml = _prefixes(raw, VML_NS) + _prefixes(raw, OFFICE_NS)
    return any(not p or re.search(rb"<" + re.escape(p) + rb":", raw) for p in vml)


def _links_in(raw: bytes, external: dict[str, tuple[str, str]]) -> list[str]:
    """Targets an element of this part would fetch: r:link, VML hrefs, and any use of an
    external relationship other than a w:hyperlink's r:id. Found by XPath, in lxml's C code:
    this runs on every part of every filled document."""
    if not _may_link(raw):
        return []
    tree = etree.parse(io.BytesIO(raw), etree.XMLParser(resolve_entities=False, no_network=True))
    targets = []
    for value in _REL_ATTRIBUTES(tree, ns=REL_NS):
        name = etree.QName(value.attrname).localname
        if name == "link":
            targets.append(external.get(str(value), ("", str(value)))[1])
        elif str(value) in external:
            kind, target = external[str(value)]
            if not (value.getparent().tag == W_HYPERLINK and name == "id" and kind == HYPERLINK_TYPE):
                targets.append(target)
    targets += [str(value) for value in _VML_SOURCES(tree, vml=VML_NS, office=OFFICE_NS)]
    return targets


def external_links(docx: bytes) -> list[str]:
    """Every address the document would make LibreOffice fetch, sorted: external
    relationships other than hyperlinks (used or not), and every linking attribute."""
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        external = _external_relationships(archive)
        targets = [t for rels in external.values() for kind, t in rels.values() if kind != HYPERLINK_TYPE]
        for info in archive.infolist():
            if info.filename.endswith(".xml"):
                targets += _links_in(archive.read(info), external.get(info.filename, {}))
    return sorted(set(targets))
