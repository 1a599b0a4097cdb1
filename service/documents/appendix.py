"""The verification appendix: what was signed (SHA-256), how to check it, what a confirmation
proves, and the evidence per party. It is written into the final document as a section of its
own (own running header, page numbers continuing), so it is one file, one page count and one
structure tree with the agreement, and it still reads on its own when printed apart.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from ..formatting import local_minute

# XML 1.0 cannot carry these; a browser's user agent or a name may still hold one.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

VERIFY_HOW = (
    "Filen bär tjänstens elektroniska sigill. Kontrollera att den är oförändrad på tjänstens sida "
    "/verifiera (Kontrollera ett avtal), eller med tjänstens sigillcertifikat i Adobe Acrobat Reader eller pyHanko."
)
PROOF = (
    "Varje part fick en personlig engångslänk till den e-postadress som anges nedan. En bekräftelse "
    "visar att den som bekräftade hade tillgång till länken, läste avtalet i tjänsten och angav namn, "
    "titel och ort. Det är en enkel elektronisk underskrift enligt EU:s förordning om elektronisk "
    "identifiering (eIDAS, nr\u00a0910/2014). Den visar inte vem personen är: ingen e-legitimation "
    "användes, så tjänsten har inte kontrollerat identiteten."
)


@dataclass
class PartyEvidence:
    """What the audit trail shows for one party's confirmation."""

    party: str
    org_number: str
    email: str
    signer: str
    place: str
    confirmed_at: datetime
    ip: str
    browser: str
    sent_at: datetime | None = None
    sent_by: str = ""
    opened_at: datetime | None = None
    opened_count: int = 0
    flag: str = ""  # "Bekräftat av X; angiven företrädare Y" when another than the one named confirmed


@dataclass
class Evidence:
    title: str
    running_title: str
    registration_number: str
    version_number: int
    frozen_at: datetime
    frozen_sha256: str
    attachment_name: str
    parties: list[PartyEvidence]
    events: list[dict] = field(default_factory=list)  # at, label, party, ip


def _clean(text) -> str:
    return _XML_ILLEGAL.sub("", str(text))


def paragraph(container, text="", keep_with_next=False):
    p = container.add_paragraph()
    if text:
        p.add_run(_clean(text))
    if keep_with_next:
        p.paragraph_format.keep_with_next = True
    return p


def _row_flags(row, header=False):
    """Rows never split over pages; the header row repeats on each page."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))
    if header:
        trpr.append(OxmlElement("w:tblHeader"))


def _table(doc, header, widths_cm, rows):
    """A grid table with fixed column widths; each cell is a list of lines (the first may be bold)."""
    table = doc.add_table(rows=1, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    _row_flags(table.rows[0], header=True)
    for cell, text in zip(table.rows[0].cells, header):
        cell.paragraphs[0].add_run(text).bold = True
    for lines in rows:
        row = table.add_row()
        _row_flags(row)
        for cell, cell_lines in zip(row.cells, lines):
            for i, (text, bold) in enumerate(cell_lines):
                p = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
                p.add_run(_clean(text)).bold = bold or None
    for column, width in zip(table.columns, widths_cm):
        column.width = Cm(width)  # the grid, which LibreOffice reads
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm):
            cell.width = Cm(width)
            for p in cell.paragraphs:
                p.paragraph_format.space_after = Pt(1)
                p.paragraph_format.line_spacing = 1.0
                for run in p.runs:
                    run.font.size = Pt(8.5)
    return table


def running_header(section, text, registration_number):
    """A running header of the section's own: the document's name and the agreement's, the
    diarienummer at the right."""
    width = section.page_width - section.left_margin - section.right_margin
    section.header.is_linked_to_previous = True  # drop the definition the new section copied
    section.header.is_linked_to_previous = False  # and start one of its own
    p = section.header.paragraphs[0]
    p.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    run = p.add_run(_clean(text) + (f"\tDnr {_clean(registration_number)}" if registration_number else ""))
    run.font.size = Pt(8.5)
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "4"), ("space", "1"), ("color", "808080")):
        bottom.set(qn(f"w:{key}"), value)
    borders = OxmlElement("w:pBdr")
    borders.append(bottom)
    p._p.get_or_add_pPr().insert_element_before(borders, "w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc", "w:rPr")


def _party_rows(parties):
    for e in parties:
        opened = "Öppnad: –"
        if e.opened_at:
            times = "en gång" if e.opened_count == 1 else f"{e.opened_count} gånger"
            opened = f"Öppnad första gången {local_minute(e.opened_at)} ({times})"
        sent = f"Skickad {local_minute(e.sent_at)}" if e.sent_at else "Skickad: –"
        yield [
            [(e.party, True), (f"Org.nr {e.org_number}", False)],
            [
                (e.signer, True),
                (f"Ort: {e.place}", False),
                (f"Bekräftad {local_minute(e.confirmed_at)}", False),
                (f"IP-adress: {e.ip or '–'}", False),
                *([(e.flag, True)] if e.flag else []),
            ],
            [
                (f"Länk till {e.email or '–'}", False),
                (f"{sent} av {e.sent_by}" if e.sent_by else sent, False),
                (opened, False),
                (f"Webbläsare: {e.browser or '–'}", False),
            ],
        ]


def proof_and_evidence(doc, heading, parties: list[PartyEvidence]) -> None:
    """How to check the seal, what a confirmation proves, and the evidence per party, under `heading`:
    the end of the final appendix and of an accession record alike."""
    paragraph(doc, VERIFY_HOW)
    doc.add_heading("Vad en bekräftelse visar", level=2)
    paragraph(doc, PROOF)
    doc.add_heading(heading, level=2)
    paragraph(
        doc,
        "Uppgifterna kommer från tjänstens hashkedjade granskningslogg, som arkivet kan hämta i sin helhet.",
        keep_with_next=True,
    )
    party_table(doc, parties)


def party_table(doc, parties: list[PartyEvidence]):
    """The evidence of each party's confirmation, a row a party: the appendix's table, and an accession record's."""
    return _table(doc, ["Part", "Bekräftad av", "Länk och teknik"], [4.4, 4.4, 7.2], _party_rows(parties))


def digest_paragraph(doc, sha256: str):
    """A SHA-256 on a line of its own, in a monospaced font."""
    digest = doc.add_paragraph().add_run(sha256)
    digest.font.name = "Liberation Mono"
    digest.font.size = Pt(9)


def append_appendix(doc, evidence: Evidence):
    """Write the appendix into `doc` (a python-docx Document) as a new section."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    running_header(section, f"Verifieringsbilaga · {evidence.running_title}", evidence.registration_number)

    doc.add_heading("Verifieringsbilaga", level=1)
    paragraph(doc, f"Till avtalet: {evidence.title}")
    if evidence.registration_number:
        paragraph(doc, f"Diarienummer: {evidence.registration_number}")
    paragraph(doc, "Tidpunkter anges i svensk tid (Europe/Stockholm).")

    doc.add_heading("Det bekräftade avtalet", level=2)
    paragraph(
        doc,
        f"Version {evidence.version_number} av avtalstexten låstes för signering "
        f"{local_minute(evidence.frozen_at)}. Varje part har bekräftat exakt den text vars "
        "SHA-256-kontrollsumma är:",
        keep_with_next=True,
    )
    digest_paragraph(doc, evidence.frozen_sha256)
    paragraph(
        doc,
        f"Den låsta avtalstexten är bifogad i denna PDF-fil som {evidence.attachment_name}. "
        "Avtalstextens sidor (märkta Avtal 1, Avtal 2 och så vidare) är den låsta versionens egna sidor, "
        "oförändrade. Parternas underskrifter står på signeringssidan som följer efter dem.",
    )

    doc.add_heading("Så kontrollerar du kontrollsumman", level=2)
    name = evidence.attachment_name
    paragraph(doc, f"1. Öppna bilagorna i PDF-läsaren (ofta en gem-ikon) och spara filen {name}.")
    paragraph(doc, "2. Beräkna filens SHA-256 i ett kommandofönster:", keep_with_next=True)
    for system, command in (
        ("Windows", f"certutil -hashfile {name} SHA256"),
        ("macOS", f"shasum -a 256 {name}"),
        ("Linux", f"sha256sum {name}"),
    ):
        p = paragraph(doc, f"{system}: ", keep_with_next=True)
        p.paragraph_format.left_indent = Cm(0.6)
        p.paragraph_format.space_after = Pt(1)
        code = p.add_run(command)
        code.font.name = "Liberation Mono"
        code.font.size = Pt(9)
    paragraph(
        doc,
        "3. Jämför resultatet med kontrollsumman ovan. Stämmer alla 64 tecken är filen exakt den text "
        "som parterna bekräftade.",
    ).paragraph_format.space_before = Pt(5)
    proof_and_evidence(doc, "Bekräftelser", evidence.parties)

    if evidence.events:
        doc.add_heading("Övriga händelser", level=2)
        _table(
            doc,
            ["Tidpunkt", "Händelse", "Part", "IP-adress"],
            [2.8, 4.2, 6.0, 3.0],
            (
                [[(local_minute(e["at"]), False)], [(e["label"], False)], [(e["party"], False)], [(e["ip"], False)]]
                for e in evidence.events
            ),
        )
