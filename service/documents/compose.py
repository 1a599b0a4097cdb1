"""Compose the final PDF from the frozen PDF's own pages and a second part, never re-laid-out.

What the parties confirmed is the frozen PDF. The final PDF opens that file as its base, so its
page objects, content streams, fonts and images are reused as they are; its seal is taken off
(the seal is over bytes, and the final PDF gets one of its own). The second part (the filled
signing sheet and the verification appendix, one LibreOffice conversion) is appended after it.

Both parts are tagged PDF/A-2b from LibreOffice. One structure tree is made of their two:
the second part's marked-content keys (/StructParents, /StructParent) are moved past the
first's, the two /ParentTree number trees become one, and a new /Document element holds the
two old roots' elements as /Part elements. Page labels tell the agreement ("Avtal 1") from
its appendices ("Bilaga 1"). The frozen file rides along byte for byte as the /Source file.
"""

import hashlib
import io
import re
from datetime import UTC, datetime

import pikepdf
from pikepdf import Array, Dictionary, Name, NumberTree, String

PDF_VERSION = "1.7"  # PDF/A-2 is ISO 32000-1
AGREEMENT_LABEL = "Avtal "
APPENDIX_LABEL = "Bilaga "
_SUBSET_TAG = re.compile(r"^/?([A-Z]{6})\+")


def as_pdf17(pdf: bytes) -> bytes:
    """The same PDF, saved as PDF 1.7 in its header (LibreOffice writes an older one), so the
    seal's extension needs no catalog /Version that says something else than the header."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        _drop_version_claims(document)
        out = io.BytesIO()
        document.save(out, force_version=PDF_VERSION, deterministic_id=True)
        return out.getvalue()


def compose_final(frozen: bytes, appendix: bytes, attachment_name: str, description: str) -> bytes:
    """The frozen PDF's pages unchanged, then the appendix PDF's pages, as one tagged PDF/A-2b
    with the frozen file attached (unsealed: the caller seals the result last)."""
    with pikepdf.open(io.BytesIO(frozen)) as base, pikepdf.open(io.BytesIO(appendix)) as second:
        _remove_seal(base)
        _drop_version_claims(base)
        _rename_font_subsets(second)
        agreement_pages = len(base.pages)
        offset = _next_struct_key(base)
        _shift_struct_keys(second, offset)
        outline = _outline_entries(second)
        base.pages.extend(second.pages)
        _merge_structure(base, second, offset)
        _merge_outline(base, outline, agreement_pages)
        base.Root.PageLabels = _page_labels(base, agreement_pages)
        _take_metadata(base, second)
        _attach_source(base, frozen, attachment_name, description)
        out = io.BytesIO()
        base.save(out, force_version=PDF_VERSION, deterministic_id=True)
        return out.getvalue()


def _remove_seal(document):
    """Take the frozen file's seal off: its field and widget, the form, /Perms and /DSS."""
    for page in document.pages:
        annotations = page.obj.get("/Annots")
        if annotations is None:
            continue
        kept = [a for a in annotations if not _is_signature(a)]
        if len(kept) == len(annotations):
            continue
        for annotation in annotations:
            if _is_signature(annotation) and "/StructParent" in annotation:
                _parent_tree(document).pop(int(annotation.StructParent), None)
        if kept:
            page.obj.Annots = Array(kept)
        else:
            del page.obj["/Annots"]
    for key in ("/AcroForm", "/Perms", "/DSS"):
        if key in document.Root:
            del document.Root[key]


def _is_signature(annotation) -> bool:
    field = annotation.get("/Parent", annotation)
    return annotation.get("/FT") == Name.Sig or field.get("/FT") == Name.Sig


def _drop_version_claims(document):
    """A catalog /Version or developer extensions (pyHanko's ISO 32002 raises /Version to 2.0)."""
    for key in ("/Version", "/Extensions"):
        if key in document.Root:
            del document.Root[key]


def _rename_font_subsets(document):
    """LibreOffice names the subsets of both parts alike (BAAAAA+Carlito): give the second part's
    subsets tags of their own, so no reader takes one part's subset for the other's."""
    for font in _fonts(document):
        for holder, key in _font_names(font):
            name = str(holder[key])
            match = _SUBSET_TAG.match(name)
            if match:
                tag = _tag_for(name, font.objgen)
                holder[key] = Name("/" + tag + name[match.end() - 1 :])


def _fonts(document):
    seen = set()
    for page in document.pages:
        resources = page.obj.get("/Resources", Dictionary())
        for font in resources.get("/Font", Dictionary()).values():
            if font.objgen not in seen:
                seen.add(font.objgen)
                yield font


def _font_names(font):
    yield font, "/BaseFont"
    parts = [font, *font.get("/DescendantFonts", Array())]
    for part in parts:
        descriptor = part.get("/FontDescriptor")
        if descriptor is not None and "/FontName" in descriptor:
            yield descriptor, "/FontName"
        if part is not font and "/BaseFont" in part:
            yield part, "/BaseFont"


def _tag_for(name: str, objgen) -> str:
    """Six capitals made from the font's name and object number, starting with 'Z' (LibreOffice's
    own tags count up from 'BAAAAA')."""
    digest = hashlib.sha256(f"{name}{objgen}".encode()).digest()
    return "Z" + "".join(chr(ord("A") + b % 26) for b in digest[:5])


def _struct_root(document):
    return document.Root.get("/StructTreeRoot")


def _parent_tree(document) -> NumberTree:
    return NumberTree(_struct_root(document).ParentTree)


def _next_struct_key(document) -> int:
    root = _struct_root(document)
    keys = [int(k) for k, _ in NumberTree(root.ParentTree).items()] if "/ParentTree" in root else []
    return max([int(root.get("/ParentTreeNextKey", 0)), *(k + 1 for k in keys)])


def _shift_struct_keys(document, offset: int):
    """Move the second part's marked-content keys past the first part's."""
    for page in document.pages:
        if "/StructParents" in page.obj:
            page.obj.StructParents = int(page.obj.StructParents) + offset
        for annotation in page.obj.get("/Annots", Array()):
            if "/StructParent" in annotation:
                annotation.StructParent = int(annotation.StructParent) + offset


def _merge_structure(base, second, offset: int):
    """One structure tree: /Document with the two parts' elements as /Part children."""
    first_root, second_root = _struct_root(base), base.copy_foreign(_struct_root(second))
    tree = _parent_tree(base)
    for key, value in NumberTree(second_root.ParentTree).items():
        tree[int(key) + offset] = value
    first_root.ParentTreeNextKey = max(int(k) for k, _ in tree.items()) + 1

    document = base.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document, P=first_root))
    parts = Array()
    for old_root in (first_root, second_root):
        part = base.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Part, P=document, K=Array()))
        kids = old_root.K if isinstance(old_root.K, Array) else Array([old_root.K])
        for kid in kids:
            if isinstance(kid, Dictionary):
                kid.P = part
            part.K.append(kid)
        parts.append(part)
    document.K = parts

    role_map = Dictionary(first_root.get("/RoleMap", Dictionary()))
    for key, value in second_root.get("/RoleMap", Dictionary()).items():
        if key not in role_map:
            role_map[key] = value
    first_root.K = Array([document])
    if role_map:
        first_root.RoleMap = role_map


def _outline_entries(document) -> list:
    """The second part's bookmarks as (title, page index, children), read before its pages move."""
    pages = {page.objgen: i for i, page in enumerate(document.pages)}
    with document.open_outline() as outline:
        return [_entry(item, pages) for item in outline.root]


def _entry(item, pages):
    destination = item.destination
    index = 0
    if isinstance(destination, Array) and len(destination) and destination[0].objgen in pages:
        index = pages[destination[0].objgen]
    return item.title, index, [_entry(child, pages) for child in item.children]


def _merge_outline(base, entries, first_index: int):
    def item(entry):
        title, index, children = entry
        made = pikepdf.OutlineItem(title, first_index + index)
        made.children.extend(item(child) for child in children)
        return made

    with base.open_outline() as outline:
        outline.root.extend(item(entry) for entry in entries)


def _page_labels(document, agreement_pages: int):
    labels = Dictionary(
        Nums=Array(
            [
                0,
                Dictionary(S=Name.D, P=String(AGREEMENT_LABEL)),
                agreement_pages,
                Dictionary(S=Name.D, P=String(APPENDIX_LABEL)),
            ]
        )
    )
    return document.make_indirect(labels)


def _take_metadata(base, second):
    """The second part's XMP and Info (made now, PDF/A-2b, the same title) describe the whole file."""
    base.Root.Metadata = base.copy_foreign(second.Root.Metadata)
    info = {key: str(value) for key, value in second.trailer.get("/Info", Dictionary()).items()}
    for key in ("/CreationDate", "/ModDate"):
        if key in info:
            info[key] = _standard_date(info[key])
    base.trailer.Info = base.make_indirect(Dictionary({key: String(value) for key, value in info.items()}))


def _standard_date(value: str) -> str:
    """LibreOffice writes 'D:20261125180456Z\\'', which readers fail to parse; the same moment
    in the form the PDF standard gives ('D:20261125180456+00\\'00\\''), as the XMP states it."""
    match = re.fullmatch(r"(D:\d{14})Z'?", value)
    return f"{match.group(1)}+00'00'" if match else value


def _attach_source(document, data: bytes, name: str, description: str):
    """Embed the frozen file with what PDF/A-2 asks of an embedded file: /F and /UF names, a /Desc,
    the MIME type, dates, and its relationship (/AFRelationship /Source) listed in the catalog's /AF."""
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
    spec = pikepdf.AttachedFileSpec(
        document,
        data,
        description=description,
        filename=name,
        mime_type="application/pdf",
        creation_date=now,
        mod_date=now,
        relationship=Name.Source,
    )
    document.attachments[name] = spec
    document.Root.AF = Array([spec.obj])
