"""The examples rendered through the real templates and LibreOffice, read back with pypdf."""

import io
import zipfile
from datetime import date, datetime

import pytest
from pypdf import PdfReader

from service.custom_templates import TemplateRejected, check_template
from service.documents import render_agreement_pdf
from service.documents.fill import fill_agreement, fill_signing_sheet, signature_context
from service.formatting import NBSP, kronor, no_break, short_title
from service.schema import validate_agreement
from service.storage import sha256_hex

from .helpers import docx_with, flat, pdf_text

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


A4 = (595, 842)  # points, rounded

IOP_HEADINGS = [
    "1. Inledning",
    "2. Parterna",
    "3. Perioden",
    "4. Värdegrund",
    "5. Målbild",
    "6. Verksamhet",
    "7. Organisation och samverkan",
    "8. Uppföljning",
    "9. Resurser",
    "10. Uppsägning",
    "11. Ombud",
]


def render(app, office, data):
    model = validate_agreement(data)
    pdf, digest = render_agreement_pdf(model, office, app.extensions["files"])
    assert sha256_hex(pdf) == digest and app.extensions["files"].get(digest) == pdf
    return pdf


def page_sizes(pdf):
    return {tuple(round(float(v)) for v in page.mediabox[2:]) for page in PdfReader(io.BytesIO(pdf)).pages}


def test_skane_iop(app, office, iop_data):
    pdf = render(app, office, iop_data)
    text = flat(pdf_text(pdf))
    assert page_sizes(pdf) == {A4}
    for heading in IOP_HEADINGS:
        assert heading in text
    assert "Region Skåne" in text and "NÄTVERKET – Idéburen sektor Skåne" in text
    assert "1 750 000 kr" in text
    assert "från 2021-01-01 till 2024-12-31" in text
    assert "9 månaders uppsägningstid" in text
    assert "Dnr RS 2020/2741" in text
    assert (
        "Partnerskapet upphör utan krav på föregående uppsägning. Partnerskapet kan förlängas med upp till 2 år."
        in text
    )
    resources = next(flat(p) for p in pdf_text(pdf).split("Sida ") if "9. Resurser" in p)
    assert "Inför varje verksamhetsår diskuterar parterna" in resources  # §9 ends on its own page
    assert "Ett Idéburet Offentligt Partnerskap för ett hållbart Skåne Dnr" in text  # the short running title
    assert "Sida 1 av" in text
    assert "{{" not in text and "{%" not in text


def test_halland_overenskommelse_lists_twelve_organisations(app, office, halland_data):
    pdf = render(app, office, halland_data)
    text = flat(pdf_text(pdf))
    assert page_sizes(pdf) == {A4}
    assert "Undertecknande" in text and "Överenskommelsen undertecknas av:" in text
    assert "Namnförtydligande" not in text  # no sheet to fill in the text the parties confirm
    assert len(halland_data["parties"]) == 12
    for party in halland_data["parties"]:
        assert f"{flat(party['name'])}, organisationsnummer {party['org_number']}" in text
    for heading in ("Dialog", "Långsiktighet", "Mångfald", "Kvalitet", "Åtgärder:", "Ansvar:", "Målbild 2024"):
        assert heading in text


def test_hostile_input_appears_literally(app, office, iop_data):
    hostile = "<b>&amp; {{ 7*7 }} {% for x in y %} </w:t> ]]> \"'"
    iop_data["title"] = "Avtal " + hostile
    iop_data["parties"][0]["description"] = hostile
    iop_data["activities"] = ["{{ cycler.__init__.__globals__.os.system('id') }}"]
    text = flat(pdf_text(render(app, office, iop_data)))
    assert flat(hostile) in text
    assert "{{ cycler.__init__.__globals__.os.system('id') }}" in text


def test_swedish_letters_survive(app, office, iop_data):
    iop_data["parties"][1]["name"] = "Föreningen Åäö ÅÄÖ é"
    iop_data["parties"][1]["representative"]["name"] = "Åsa Ödegård-Émile"
    text = flat(pdf_text(render(app, office, iop_data)))
    assert "Föreningen Åäö ÅÄÖ é" in text and "Åsa Ödegård-Émile" in text


def test_text_sent_for_signing_speaks_of_electronic_confirmation(app, office, iop_data, halland_data):
    for data in (iop_data, halland_data):
        text = flat(pdf_text(render(app, office, data)))
        assert "Avtalet bekräftas elektroniskt av parterna; varje part får den slutliga versionen." in text
        assert "likalydande" not in text and "Ort och datum" not in text and "___" not in text
        assert "står på signeringssidan, som följer efter avtalstexten" in text  # no room for a pen
        assert "Bekräftat elektroniskt" not in text


def test_iop_resources_name_the_yearly_amount_once(app, office, iop_data):
    iop_data["parties"][0]["resources"]["text"] = "Region Skåne bidrar med arbetstid och ett årligt belopp."
    text = flat(pdf_text(render(app, office, iop_data)))
    assert "Det årliga beloppet från Region Skåne är 1 750 000 kr." in text
    iop_data["parties"][0]["resources"]["text"] = ""
    text = flat(pdf_text(render(app, office, iop_data)))
    assert "Region Skåne bidrar med 1 750 000 kr årligen." in text and text.count("1 750 000 kr") == 1


def test_short_title_is_the_running_header(app, office, iop_data):
    iop_data["short_title"] = "IOP Skåne 2021"
    pdf = render(app, office, iop_data)
    pages = [flat(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]
    assert all(page.startswith("IOP Skåne 2021 Dnr RS 2020/2741") for page in pages)


def test_numbers_keep_their_units_on_one_line():
    assert kronor(1750000) == f"1{NBSP}750{NBSP}000{NBSP}kr"
    assert no_break("med 1 750 000 kr och 9 månader, år 2021 och 30 000 organisationer") == (
        f"med 1{NBSP}750{NBSP}000{NBSP}kr och 9{NBSP}månader, år 2021 och 30{NBSP}000 organisationer"
    )
    assert short_title("Ett partnerskap för Skåne – mellan parter i Överenskommelsen") == "Ett partnerskap för Skåne"
    assert len(short_title("Ord " * 40)) <= 75


def test_signing_sheets_show_place_and_date(app, office, iop_data, halland_data):
    moment = datetime(2021, 3, 16, 13, 2)  # UTC; 14:02 in Stockholm
    signature = signature_context("Malmö", date(2021, 3, 16), "Birthe Wallin", "Ordförande", moment)
    iop = validate_agreement(iop_data)
    signatures = {0: signature, 1: signature}
    iop_text = flat(pdf_text(office.convert(fill_signing_sheet(iop, signatures))))
    assert "Malmö den 16/3 2021 Birthe Wallin Ordförande" in iop_text
    assert "Bekräftat elektroniskt kl. 14:02" in iop_text

    halland = validate_agreement(halland_data)
    everyone = dict.fromkeys(range(len(halland.parties)), signature)
    table = flat(pdf_text(office.convert(fill_signing_sheet(halland, everyone))))
    assert "Malmö den 16/3 2021 Bekräftat elektroniskt kl. 14:02 Birthe Wallin Ordförande" in table
    assert all(flat(p["name"]) in table for p in halland_data["parties"])


def word_parts(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_same_data_fill_the_same_word_file(iop_data, halland_data):
    for data in (iop_data, halland_data):
        model = validate_agreement(data)
        assert word_parts(fill_agreement(model)) == word_parts(fill_agreement(model))


def test_no_filter_makes_two_fills_differ():
    with pytest.raises(TemplateRejected) as refused:
        check_template(docx_with("{{ ['Regionen', 'Föreningen']|random }} betalar."), "iop")
    assert "Mallen använder filtret 'random', som inte finns." in refused.value.reasons
