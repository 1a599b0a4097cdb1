"""Word documents put together from parts: the styles a part needs but its document lacks."""

import copy
import io

from docx import Document
from docx.oxml.ns import qn

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
