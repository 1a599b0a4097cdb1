"""Field codes in a .docx, read the way Word and LibreOffice read them.

A field's instruction may be split over many runs (`<w:instrText>` pieces between a
`begin` and an `end` fldChar), written in any case, nested, or made by Jinja when the
template is filled. So instructions are read from the XML with their pieces joined,
and the field type compared without regard to case.
"""

import io
import re
import zipfile

from lxml import etree

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
    """The field types in the document that would fetch another file, sorted."""
    return sorted({kind for i in field_instructions(docx) if (kind := field_type(i)) in FETCHING})
