"""The template's tags as an official sees them in Word: paragraph by paragraph.

Word and LibreOffice split a paragraph's text into runs as they like (`{{ ti` + `tle }}`);
docxtpl joins a tag's runs again, so such a tag works. A tag whose start and end are in
different paragraphs cannot work (docxtpl would silently merge the paragraphs), and a tag
Jinja cannot read is only useful to the official with the paragraph it stands in. So the
tags are read here per paragraph, in document order, and each problem names its place.
"""

import io
import re
import zipfile

from jinja2 import TemplateSyntaxError
from lxml import etree

from .constructs import W, paragraph_text, place_of

TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG_EDGE = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")
DOCXTPL_MARK = re.compile(r"^(\{[{%])(?:p|tr|tc|r)\s")  # {%p for %}, {%tr endfor %}, {{r x }}
_TEXT_PARTS = re.compile(r"word/(document|header\d*|footer\d*)\.xml")
UNCLOSED = "Mallen har en slinga eller ett villkor ({% for %} eller {% if %}) som aldrig avslutas"


def tagged_paragraphs(docx: bytes) -> list[tuple[str, str]]:
    """(place, text) of every paragraph holding a tag or part of one, body, headers and footers."""
    found = []
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        for info in archive.infolist():
            if _TEXT_PARTS.fullmatch(info.filename):
                with archive.open(info) as part:
                    tree = etree.parse(part, etree.XMLParser(resolve_entities=False, no_network=True))
                for paragraph in tree.iter(W + "p"):
                    text = paragraph_text(paragraph)
                    if TAG_EDGE.search(text):
                        found.append((place_of(paragraph), text))
    return found


def tag_problems(docx: bytes, env) -> list[str]:
    """Swedish sentences for tags split over paragraphs or that Jinja cannot read, each with
    the paragraph it stands in and what to do; empty when every tag reads."""
    reasons, tags = [], []
    for place, text in tagged_paragraphs(docx):
        if TAG_EDGE.search(TAG.sub("", text)):
            reasons.append(
                f"En mallkod {place} börjar eller slutar i ett annat stycke. Skriv hela koden, från {{{{ till }}}} "
                "eller från {% till %}, i ett och samma stycke och ladda upp mallen igen."
            )
        tags += [(place, tag) for tag in TAG.findall(text)]
    if reasons:
        return reasons
    try:  # one tag a line: the line Jinja names is the tag, and so the paragraph
        env.parse("\n".join(DOCXTPL_MARK.sub(r"\1 ", " ".join(tag.split())) for _, tag in tags))
    except TemplateSyntaxError as exc:
        if "end of template" in (exc.message or ""):
            return [f"{UNCLOSED}. Lägg till {{% endfor %}} eller {{% endif %}} där den ska sluta och ladda upp igen."]
        place, tag = tags[min(exc.lineno, len(tags)) - 1]
        return [
            f"Mallkoden ”{tag[:60]}” {place} går inte att läsa ({exc.message}). "
            "Rätta den i Word så att den skrivs som i fältreferensen och ladda upp mallen igen."
        ]
    return []


def place_of_name(docx: bytes, name: str) -> str:
    """Where a tag first uses `name` as a name of its own (not `p.name`): the paragraph's place, or ''."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    for place, text in tagged_paragraphs(docx):
        if any(word.search(tag) for tag in TAG.findall(text)):
            return place
    return ""
