"""The register of every party ("Förteckning över undertecknande organisationer") as PDF/A-2b,
CSV and XLSX: what each shows, read back the way a reader or Excel reads it."""

import csv
import io
import re
from datetime import datetime, timedelta

from openpyxl import load_workbook
from pypdf import PdfReader

from service.documents import register, seal
from service.documents.register import RegisterFacts, RegisterRow, register_csv, register_pdf, register_xlsx

from .helpers import HOSTILE_TEXT, pdf_text, pdfa_problems

FACTS = RegisterFacts(
    title="Överenskommelse om samverkan mellan Region Skåne och idéburen sektor",
    registration_number="RS 2021/117",
    version_number=3,
    frozen_sha256="5d" * 32,
    made_at=datetime(2021, 3, 20, 8, 30),  # 09:30 in Sweden
)
MARKUP = "<w:t>{{ title }}</w:t> {% if x %}&amp; #set text(red) $x$ *fet* <row>"
XML_FORBIDDEN = ["NUL", "escape", "noncharacter U+FFFE", "noncharacter U+FFFF", "lone surrogate"]
NO_GLYPH = ["DEL", "noncharacter U+FDD0", "noncharacter U+10FFFF"]  # XML holds them, no font shows them


def row(n, **changes):
    values = dict(
        organisation=f"Förening nummer {n}",
        org_number=f"802000-{n:04d}",
        confirmed_by=f"Anna Andersson {n}, ordförande",
        place="Kristianstad",
        confirmed_at=datetime(2021, 3, 9, 13, 2) + timedelta(minutes=n),
        record="Slutligt avtal" if n < 3 else f"Anslutning {n - 2}",
    )
    return RegisterRow(**(values | changes))


def test_the_pdf_shows_the_agreement_its_parties_and_page_numbers_as_pdfa():
    rows = [row(1), row(2), row(3, organisation="Kulturföreningen Ängen", place="Ystad")]
    pdf = register_pdf(FACTS, rows)
    text = pdf_text(pdf)
    for expected in (
        "Förteckning över undertecknande organisationer",
        FACTS.title,
        "Diarienummer RS 2021/117",
        f"version 3, SHA-256 {'5d' * 32}",
        "Upprättad 2021-03-20 09:30 (svensk tid)",
        "Organisation Organisationsnummer Bekräftad av Ort Bekräftad Handling",
        "Kulturföreningen Ängen 802000-0003 Anna Andersson 3, ordförande Ystad 2021-03-09 14:05 Anslutning 1",
        "Förening nummer 1 802000-0001 Anna Andersson 1, ordförande Kristianstad 2021-03-09 14:03 Slutligt avtal",
        "sida 1 av 1",
    ):
        assert expected in text, expected
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata.title == "Förteckning över undertecknande organisationer"
    assert pdfa_problems(pdf) == []


def test_the_register_keeps_pdfa_when_the_service_seals_it(tmp_path):
    config = {"SEAL_P12": "", "SEAL_PASSWORD": "", "SEAL_ORGANISATION": "Region Skåne", "TSA_URL": ""}
    sealed = seal.load_sealer(config, tmp_path).seal(register_pdf(FACTS, [row(1), row(2)]))
    assert sealed.startswith(b"%PDF-1.7") and pdfa_problems(sealed) == []
    assert "Förening nummer 2 802000-0002" in pdf_text(sealed)


def test_a_long_register_is_laid_out_in_chunks_that_read_as_one_table(monkeypatch):
    """Chunks end at page breaks: every page but the first and the last holds as many rows as
    the next, each row is there once and in order, and the pages are numbered through."""
    monkeypatch.setattr(register, "CHUNK_ROWS", 40)
    pdf = register_pdf(FACTS, [row(n) for n in range(1, 201)])
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 3
    numbers = [[int(n) for n in re.findall(r"Förening nummer (\d+) ", page)] for page in pages]
    assert [n for page in numbers for n in page] == list(range(1, 201))
    assert len({len(page) for page in numbers[1:-1]}) == 1, [len(page) for page in numbers]
    for i, page in enumerate(pages, start=1):
        assert "Organisation Organisationsnummer Bekräftad av" in page
        assert f"sida {i} av {len(pages)}" in page
    assert pdfa_problems(pdf) == []


def test_an_empty_register_says_there_are_no_parties_yet():
    text = pdf_text(register_pdf(FACTS, []))
    assert "Ännu har ingen organisation undertecknat överenskommelsen." in text
    assert "sida 1 av 1" in text and FACTS.title in text
    assert list(csv.reader(io.StringIO(register_csv(FACTS, []).decode("utf-8-sig")), delimiter=";")) == [
        list(register.COLUMNS)
    ]
    sheet = load_workbook(io.BytesIO(register_xlsx(FACTS, [])))["Parter"]
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [list(register.COLUMNS)]


def test_csv_and_xlsx_read_back_with_the_same_rows():
    rows = [row(1), row(2), row(3, organisation='Förening; med "citat"\noch radbrytning')]
    data = register_csv(FACTS, rows)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel on Swedish Windows reads UTF-8 only with it
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    expected = [
        [r.organisation, r.org_number, r.confirmed_by, r.place, f"2021-03-09 14:0{n}", r.record]
        for n, r in enumerate(rows, start=3)
    ]
    assert lines == [list(register.COLUMNS), *expected]

    book = load_workbook(io.BytesIO(register_xlsx(FACTS, rows)))
    sheet = book["Parter"]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0] == list(register.COLUMNS)
    assert values[1:] == [
        [r.organisation, r.org_number, r.confirmed_by, r.place, datetime(2021, 3, 9, 14, n), r.record]
        for n, r in enumerate(rows, start=3)
    ]
    about = {r[0].value: r[1].value for r in book["Om förteckningen"].iter_rows()}
    assert about["Överenskommelse"] == FACTS.title and about["Diarienummer"] == "RS 2021/117"
    assert about["SHA-256 för avtalstexten"] == "5d" * 32 and about["Avtalstextens version"] == "3"
    assert about["Förteckningen upprättad"] == "2021-03-20 09:30 (svensk tid)"


def test_hostile_text_appears_literally_and_never_as_a_formula():
    formula = '=HYPERLINK("http://angripare.example/","Klicka")'
    rows = [
        row(1, organisation=MARKUP, place=formula),
        *(row(n, confirmed_by=HOSTILE_TEXT[name]) for n, name in enumerate(XML_FORBIDDEN, start=2)),
    ]
    facts = RegisterFacts(MARKUP, "{{ dnr }}", 1, "0" * 64, FACTS.made_at)
    printable = [HOSTILE_TEXT[name].replace(HOSTILE_TEXT[name][4], "\ufffd") for name in XML_FORBIDDEN]

    text = pdf_text(register_pdf(facts, rows))
    assert text.count(MARKUP) >= 2 and "{{ dnr }}" in text  # the title, and the row
    assert "".join(formula.split()) in "".join(text.split())  # a narrow column wraps it
    assert all(shown in text for shown in printable)  # what a document shows of a character XML forbids
    assert register_pdf(facts, [row(1, place=HOSTILE_TEXT[name]) for name in NO_GLYPH])  # no missing glyph refused

    lines = list(csv.reader(io.StringIO(register_csv(facts, rows).decode("utf-8-sig")), delimiter=";"))
    assert lines[1][0] == MARKUP and lines[1][3] == "'" + formula  # Excel shows it, never runs it
    assert [line[2] for line in lines[2:]] == printable

    sheet = load_workbook(io.BytesIO(register_xlsx(facts, rows)))["Parter"]
    cells = list(sheet.iter_rows(min_row=2))
    assert cells[0][0].value == MARKUP
    assert (cells[0][3].value, cells[0][3].data_type) == (formula, "s")
    assert [r[2].value for r in cells[1:]] == printable
