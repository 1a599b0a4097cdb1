"""The Word files in templates/docx are the sources the region edits: checked here, not built."""

import io

import pytest
from docx import Document

from service import forms
from service.custom_templates import check_template
from service.documents.constructs import unshown_constructs
from service.documents.fill import MAIN_TEMPLATES, SIGNING_SHEETS, TEMPLATE_DIR, jinja_environment
from service.documents.tags import tag_problems


def headings(docx: bytes, style="Heading 1") -> list[str]:
    return [p.text for p in Document(io.BytesIO(docx)).paragraphs if p.style.name == style]


@pytest.mark.parametrize("kind", MAIN_TEMPLATES)
def test_each_main_template_passes_every_upload_check(kind):
    assert check_template((TEMPLATE_DIR / MAIN_TEMPLATES[kind]).read_bytes(), kind).variables


@pytest.mark.parametrize("kind", SIGNING_SHEETS)
def test_each_signing_sheet_reads_tag_by_tag_and_shows_alike_on_page_and_pdf(kind):
    sheet = (TEMPLATE_DIR / SIGNING_SHEETS[kind]).read_bytes()
    assert tag_problems(sheet, jinja_environment()) == []
    assert unshown_constructs(sheet) == []


def test_the_forms_numbered_sections_are_the_templates_headings():
    iop = headings((TEMPLATE_DIR / MAIN_TEMPLATES["iop"]).read_bytes())
    entries = " | ".join(entry for _, entry in forms.CONTENTS["iop"])
    numbered = [h for h in iop if h[:1].isdigit()]
    assert len(numbered) == 11
    assert all(h in entries for h in numbered), (numbered, entries)
    assert [entries.index(f"{n}. ") for n in range(1, 11)] == sorted(entries.index(f"{n}. ") for n in range(1, 11))
    halland = headings((TEMPLATE_DIR / MAIN_TEMPLATES["overenskommelse"]).read_bytes())
    shown = dict(forms.CONTENTS["overenskommelse"])
    assert shown["principer"].startswith(halland[halland.index("Undertecknande") - 2])
    assert shown["undertecknande"] == "Undertecknande" in halland


def test_a_heading_edited_in_the_word_file_is_the_forms_too():
    doc = Document(TEMPLATE_DIR / MAIN_TEMPLATES["iop"])
    (heading,) = [p for p in doc.paragraphs if p.text == "8. Uppföljning"]
    heading.runs[0].text = "8. Uppföljning och "  # as Word splits an edited heading over runs
    heading.add_run("utvärdering")
    out = io.BytesIO()
    doc.save(out)
    assert ("uppfoljning", "8. Uppföljning och utvärdering") in forms.contents("iop", out.getvalue())
