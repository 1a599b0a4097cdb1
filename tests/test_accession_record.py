"""One organisation's accession record, "Anslutning till …", converted by LibreOffice to a
tagged PDF/A-2b: what it shows of the organisation, the confirmed text and the evidence."""

import io
from datetime import datetime

import pytest
from pypdf import PdfReader

from service.documents.accession_record import AccessionFacts, accession_record_docx
from service.documents.appendix import PartyEvidence

from .helpers import HOSTILE_TEXT, flat, pdf_text, pdfa_problems

pytestmark = pytest.mark.slow  # LibreOffice

MARKUP = "<w:t>{{ title }}</w:t> {% if x %}&amp;"


def evidence(**changes):
    values = dict(
        party="Kulturföreningen Ängen",
        org_number="802000-0003",
        email="styrelsen@angen.example.se",
        signer="Anna Andersson, ordförande",
        place="Kristianstad",
        confirmed_at=datetime(2021, 3, 9, 13, 2),  # 14:02 in Sweden
        ip="192.0.2.44",
        browser="Mozilla/5.0 (Windows NT 10.0) Firefox/128.0",
        sent_at=datetime(2021, 3, 1, 9, 0),
        sent_by="Handläggare Hanna",
        opened_at=datetime(2021, 3, 8, 18, 30),
        opened_count=2,
    )
    return PartyEvidence(**(values | changes))


def facts(**changes):
    values = dict(
        title="Överenskommelse om samverkan mellan Region Skåne och idéburen sektor",
        registration_number="RS 2021/117",
        version_number=3,
        frozen_sha256="5d" * 32,
        number=17,
        evidence=evidence(),
    )
    return AccessionFacts(**(values | changes))


def test_the_record_names_the_organisation_the_confirmed_text_and_its_evidence(office):
    pdf = office.convert(accession_record_docx(facts()), pdfa=True)
    text = flat(pdf_text(pdf))
    for expected in (
        "Anslutning till Överenskommelse om samverkan mellan Region Skåne och idéburen sektor",
        "Diarienummer: RS 2021/117",
        "anslutning nummer 17",
        "Organisation: Kulturföreningen Ängen",
        "Organisationsnummer: 802000-0003",
        "Bekräftad av: Anna Andersson, ordförande",
        "Kristianstad den 9/3 2021",
        "Bekräftad 2021-03-09 14:02",
        "version 3 av avtalstexten",
        "5d" * 32,
        # the appendix's evidence row for the party
        "Länk till styrelsen@angen.example.se",
        "Skickad 2021-03-01 10:00 av Handläggare Hanna",
        "Öppnad första gången 2021-03-08 19:30 (2 gånger)",
        "IP-adress: 192.0.2.44",
        "Webbläsare: Mozilla/5.0 (Windows NT 10.0) Firefox/128.0",
        "Sida 1 av",
    ):
        assert expected in text, expected
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) <= 2
    assert "/StructTreeRoot" in reader.trailer["/Root"] and reader.trailer["/Root"]["/MarkInfo"]["/Marked"]
    assert pdfa_problems(pdf) == []


def test_hostile_text_in_the_record_appears_literally(office):
    record = facts(
        title=MARKUP,
        registration_number="{{ dnr }}",
        evidence=evidence(
            party=MARKUP,
            signer="Före\x00efter, {% raw %}",
            place=HOSTILE_TEXT["noncharacter U+FFFE"],
            browser="<script>alert(1)</script>",
        ),
    )
    text = flat(pdf_text(office.convert(accession_record_docx(record), pdfa=True)))
    assert f"Anslutning till {MARKUP}" in text and f"Organisation: {MARKUP}" in text
    assert "Diarienummer: {{ dnr }}" in text and "<script>alert(1)</script>" in text
    assert "efter, {% raw %}" in text and " den 9/3 2021" in text
