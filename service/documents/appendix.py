"""The verification appendix: what was signed (SHA-256), who confirmed, when, where, from where."""

import io

from docx import Document
from docx.shared import Cm, Pt, RGBColor

from ..formatting import local_minute

VERIFY_HOW = (
    "Filen bär tjänstens elektroniska sigill. Kontrollera att den är oförändrad på tjänstens sida "
    "/verifiera (Kontrollera ett avtal), eller med tjänstens sigillcertifikat i Adobe Acrobat Reader eller pyHanko."
)


def _a4(doc):
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))
    section.top_margin = section.bottom_margin = Cm(2.2)


def _table(doc, header, rows):
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    for row in table.rows:
        for cell in row.cells:
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(8.5)
    return table


def build_appendix(title, registration_number, version, confirmations, events) -> bytes:
    """confirmations: dicts with party, name, title, place, at, ip; events: dicts with at, label, party, ip."""
    doc = Document()
    _a4(doc)
    style = doc.styles["Normal"]
    style.font.name = "Carlito"  # as in the agreement templates
    style.font.size = Pt(10)
    for name in ("Heading 1", "Heading 2"):
        doc.styles[name].font.name = "Carlito"
        doc.styles[name].font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
    doc.add_heading("Verifieringsbilaga", level=1)
    doc.add_paragraph(f"Avtal: {title}")
    if registration_number:
        doc.add_paragraph(f"Diarienummer: {registration_number}")
    doc.add_paragraph(
        f"Version {version.number} av avtalstexten låstes för signering {local_minute(version.created_at)}. "
        "Parterna har bekräftat exakt den text vars SHA-256-kontrollsumma anges nedan. "
        "Den låsta avtalstexten finns bifogad i denna PDF-fil."
    )
    p = doc.add_paragraph()
    p.add_run("SHA-256: ").bold = True
    digest = p.add_run(version.pdf_sha256)
    digest.font.name = "Liberation Mono"
    digest.font.size = Pt(8.5)

    doc.add_heading("Bekräftelser", level=2)
    _table(
        doc,
        ["Part", "Namn och titel", "Ort", "Tidpunkt", "IP-adress"],
        [
            [c["party"], f"{c['name']}, {c['title']}".strip(", "), c["place"], local_minute(c["at"]), c["ip"]]
            for c in confirmations
        ],
    )
    doc.add_heading("Händelser", level=2)
    _table(
        doc,
        ["Tidpunkt", "Händelse", "Part", "IP-adress"],
        [[local_minute(e["at"]), e["label"], e["party"], e["ip"]] for e in events],
    )
    doc.add_paragraph(
        "Tidpunkter anges i svensk tid (Europe/Stockholm). Händelserna ingår i tjänstens hashkedjade granskningslogg."
    )
    doc.add_paragraph(VERIFY_HOW)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
