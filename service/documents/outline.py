"""The headings a Word template prints, read from the .docx, so the form's table of contents
names each section as the template does (one source: the template)."""

import io
import re

from docx import Document

NAME = re.compile(r"[A-Za-z_][\w.]*")


def headings_over(docx: bytes, names) -> dict[str, str]:
    """For each name, the text of the Heading 1 above the first paragraph that uses it, e.g.
    'period.start' -> '3. Perioden för partnerskapet'. A heading that is itself a tag does not count."""
    found: dict[str, str] = {}
    heading = ""
    for paragraph in Document(io.BytesIO(docx)).paragraphs:
        text = paragraph.text
        if paragraph.style is not None and paragraph.style.name == "Heading 1":
            heading = "" if "{" in text else " ".join(text.split())
            continue
        used = {word for tag in re.findall(r"\{[{%].*?[}%]\}", text) for word in NAME.findall(tag)}
        for name in names:
            if heading and name in used and name not in found:
                found[name] = heading
    return found
