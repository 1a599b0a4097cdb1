"""Assemble the final document: one Word document converted once, then the frozen PDF attached.

The signed text, its signing sheet and the verification appendix are composed as one .docx,
so LibreOffice numbers the pages over the whole file ("Sida X av Y"), writes one structure
tree and one PDF/A identification. pypdf then only embeds the frozen agreement, cloning the
document so its catalog (XMP metadata, output intent, structure tree) is kept.
"""

import copy
import io
import re
from datetime import UTC, datetime

from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml.ns import qn
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, NumberObject, TextStringObject

from .fill import builtin_template


def ensure_styles(doc, style_ids, source=None):
    """Copy the named styles (and what they are based on) from `source`, or the built-in
    template, into `doc` where it lacks them: an uploaded template may define none of ours."""
    source = source or Document(io.BytesIO(builtin_template("iop")))
    have = {s.get(qn("w:styleId")) for s in doc.styles.element.findall(qn("w:style"))}
    available = {s.get(qn("w:styleId")): s for s in source.styles.element.findall(qn("w:style"))}
    pending = list(style_ids)
    while pending:
        style_id = pending.pop()
        if style_id in have or style_id not in available:
            continue
        element = copy.deepcopy(available[style_id])
        doc.styles.element.append(element)
        have.add(style_id)
        based_on = element.find(qn("w:basedOn"))
        if based_on is not None:
            pending.append(based_on.get(qn("w:val")))


def append_document(doc, other: bytes):
    """Append the body of another .docx (a filled signing sheet) to `doc`, on a new page."""
    source = Document(io.BytesIO(other))
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    body = doc.element.body
    last = body[-1]  # the document's own section properties stay last
    used: set[str] = set()
    for element in source.element.body:
        if element.tag == qn("w:sectPr"):
            continue
        used.update(s.get(qn("w:val")) for s in element.iter(qn("w:pStyle"), qn("w:rStyle"), qn("w:tblStyle")))
        last.addprevious(copy.deepcopy(element))
    ensure_styles(doc, used, source)


def _standard_date(value: str) -> str:
    """LibreOffice writes 'D:20261125180456Z\'', which readers fail to parse; the same moment
    in the form the PDF standard gives ('D:20261125180456+00\'00\''), as the XMP states it."""
    match = re.fullmatch(r"(D:\d{14})Z'?", value)
    return f"{match.group(1)}+00'00'" if match else value


def attach_file(pdf: bytes, name: str, data: bytes, description: str) -> bytes:
    """Embed `data` as the PDF's source file, with what PDF/A-2 asks of an embedded file:
    /F and /UF names, a /Desc, the MIME type, dates, and its relationship (/AFRelationship)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    created = writer.metadata.get("/CreationDate") if writer.metadata else None
    if created:
        writer.add_metadata({"/CreationDate": _standard_date(created)})
    attachment = writer.add_attachment(name, data)
    attachment.alternative_name = TextStringObject(name)
    attachment.description = TextStringObject(description)
    attachment.subtype = NameObject("/application#2Fpdf")
    attachment.associated_file_relationship = NameObject("/Source")
    attachment.size = NumberObject(len(data))
    attachment.modification_date = datetime.now(UTC)
    writer.root_object[NameObject("/AF")] = ArrayObject([attachment.pdf_object.indirect_reference])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
