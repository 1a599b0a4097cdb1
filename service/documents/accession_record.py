"""One organisation's accession record, "Anslutning till …": the document a registry registers
when an organisation joins an open överenskommelse. It names the frozen text the organisation
confirmed by its SHA-256 (the case holds that text once) and shows the same evidence for the
party as the final PDF's verification appendix, made by the same code.
"""

import io
from dataclasses import dataclass

from docx import Document
from docx.oxml.ns import qn

from ..formatting import local_minute, local_time, place_and_date, short_title, xml_text
from .appendix import PartyEvidence, digest_paragraph, paragraph, proof_and_evidence, running_header
from .assemble import ensure_styles
from .fill import builtin_template


@dataclass(frozen=True)
class AccessionFacts:
    title: str
    registration_number: str  # diarienummer, may be ""
    version_number: int
    frozen_sha256: str  # the frozen text the organisation confirmed
    number: int  # the accession's number in the agreement
    evidence: PartyEvidence


def _empty_document():
    """The built-in överenskommelse's page, styles and footer ("Sida 1 av 2"), without its text."""
    doc = Document(io.BytesIO(builtin_template("overenskommelse")))
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    ensure_styles(doc, ["Heading1", "Heading2", "TableGrid", "Header"])
    return doc


def accession_record_docx(facts: AccessionFacts) -> bytes:
    """The record as a Word file, for a PDF/A conversion (tagged, as the appendix is)."""
    e = facts.evidence
    doc = _empty_document()
    running_header(
        doc.sections[0], f"Anslutning {facts.number} · {short_title(facts.title)}", facts.registration_number
    )

    doc.add_heading(xml_text(f"Anslutning till {facts.title}"), level=1)
    if facts.registration_number:
        paragraph(doc, f"Diarienummer: {facts.registration_number}")
    paragraph(doc, f"Handling: anslutning nummer {facts.number} till överenskommelsen.")
    paragraph(doc, "Tidpunkter anges i svensk tid (Europe/Stockholm).")

    doc.add_heading("Organisationen som ansluter sig", level=2)
    paragraph(doc, f"Organisation: {e.party}")
    paragraph(doc, f"Organisationsnummer: {e.org_number}")
    paragraph(doc, f"Bekräftad av: {e.signer}")
    paragraph(doc, place_and_date(e.place, local_time(e.confirmed_at).date()))
    paragraph(doc, f"Bekräftad {local_minute(e.confirmed_at)}")

    doc.add_heading("Den bekräftade avtalstexten", level=2)
    paragraph(
        doc,
        f"Organisationen bekräftade version {facts.version_number} av avtalstexten, den låsta text "
        "som överenskommelsens parter har bekräftat. Dess SHA-256-kontrollsumma är:",
        keep_with_next=True,
    )
    digest_paragraph(doc, facts.frozen_sha256)
    paragraph(
        doc,
        "Avtalstexten finns i ärendet som en egen handling. Stämmer dess kontrollsumma med den ovan "
        "är det exakt den text som organisationen bekräftade.",
    )
    proof_and_evidence(doc, "Bekräftelsen", [e])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
