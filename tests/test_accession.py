"""Bulk accession: a list of organisations joins the Halland överenskommelse, checked row
by row before anything is sent, links sent by the job queue, one link per organisation."""

import io
import re
import threading

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from service import accession, audit, signing
from service.errors import Conflict
from service.models import Accession, Agreement, AgreementHandler, Party, SigningLink

from .helpers import (
    bearer,
    count,
    csrf_token,
    login,
    org_number,
    send_and_confirm,
    shared_strings_bomb,
    stored_files,
    wait_for,
    xlsx_with_member,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


HEADING = "Namn;Organisationsnummer;E-post;Firmatecknare;Titel"


def organisations(n, start=100000000):
    """n distinct, valid organisations as list rows."""
    return [
        (f"Förening nr {i}", org_number(str(start + i)), f"kontakt{i}@forening.example.se", f"Ombud {i}", "Ordförande")
        for i in range(n)
    ]


def csv_bytes(rows, heading=HEADING) -> bytes:
    return ("\n".join([heading, *(";".join(row) for row in rows)]) + "\n").encode("utf-8")


@pytest.fixture
def open_agreement(client, api_token, halland_data):
    """The Halland överenskommelse, confirmed by every founding party: open for accession."""
    agreement_id, _ = send_and_confirm(client, api_token, halland_data)
    return agreement_id


@pytest.fixture
def official(app, client, make_user, open_agreement):
    """A colleague the agreement's creator has made a handläggare of it."""
    user, password = make_user("official", "samordnare@region.example.se")
    with app.extensions["db"].session() as session:
        session.add(AgreementHandler(agreement_id=open_agreement, user_id=user.id))
    login(client, user.email, password)
    return user


def upload(client, agreement_id, content, filename="foreningar.csv"):
    url = f"/avtal/{agreement_id}/anslut-lista"
    token = csrf_token(client.get(url).get_data(as_text=True))
    return client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def counts(app, agreement_id):
    with app.extensions["db"].session() as session:
        parties = session.scalar(select(func.count(Party.id)).where(Party.agreement_id == agreement_id))
        links = session.scalar(select(func.count(SigningLink.id)).join(Party).where(Party.agreement_id == agreement_id))
    return parties, links


def invitations(smtp_server):
    """The emails to the listed organisations (the founding parties' final PDFs go out too)."""
    return [m for m in smtp_server.messages if m["To"].endswith("@forening.example.se")]


def links_per_party(app, agreement_id):
    with app.extensions["db"].session() as session:
        rows = session.execute(
            select(Party.org_number, func.count(SigningLink.id))
            .join(SigningLink, SigningLink.party_id == Party.id)
            .where(Party.agreement_id == agreement_id)
            .group_by(Party.id)
        ).all()
    return dict(rows)


def test_a_thousand_rows_are_checked_reported_then_sent_once_each(
    app, client, official, open_agreement, halland_data, smtp_server, run_jobs
):
    rows = organisations(1000)
    existing = halland_data["parties"][1]
    rows[10] = ("Fel kontrollsiffra", rows[10][1][:-1] + str((int(rows[10][1][-1]) + 1) % 10), *rows[10][2:])
    rows[20] = ("Dubblett", rows[5][1], *rows[20][2:])
    rows[30] = (existing["name"], existing["org_number"].replace("-", ""), *rows[30][2:])
    rows[40] = (rows[40][0], rows[40][1], "inte-en-adress", *rows[40][3:])
    rows[50] = ("", "", "", "", "")  # an empty row is skipped, not reported
    rows[60] = (rows[60][0], "", rows[60][2], "", "")
    before = counts(app, open_agreement)

    response = upload(client, open_agreement, csv_bytes(rows))
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    text = " ".join(page.get_data(as_text=True).split())
    assert "994 av 999 rader kan anslutas" in text
    assert "Organisationsnummer har fel kontrollsiffra." in text
    assert "Samma organisationsnummer som rad 7." in text  # rows[5] is spreadsheet row 7
    assert "Organisationen är redan part i överenskommelsen." in text
    assert "E-postadress är inte en giltig e-postadress." in text
    assert "Organisationsnummer måste fyllas i." in text and "Ombud: Namn måste fyllas i." in text
    assert counts(app, open_agreement) == before  # nothing stored, nothing sent
    assert invitations(smtp_server) == []

    accept = re.search(r'action="([^"]+/anslut)"', page.get_data(as_text=True)).group(1)
    done = client.post(accept, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 302
    valid = 994  # five rows with errors, one empty

    def finished():
        with app.extensions["db"].session() as session:
            return session.scalars(select(Accession)).one().status == "done"

    wait_for(finished, seconds=300)
    assert counts(app, open_agreement) == (before[0] + valid, before[1] + valid)
    assert len(invitations(smtp_server)) == valid
    assert len({m["To"] for m in invitations(smtp_server)}) == valid
    assert set(links_per_party(app, open_agreement).values()) == {1}
    final = " ".join(client.get(response.headers["Location"]).get_data(as_text=True).split())
    assert f"Klart: {valid} av {valid} länkar skickade med e-post" in final


def test_an_xlsx_list_reads_like_a_csv(app, client, official, open_agreement):
    book = Workbook()
    sheet = book.active
    sheet.append(["Namn", "Org.nr", "E-postadress", "Ombud", "Titel"])
    name, number, email, representative, title = organisations(1)[0]
    sheet.append([name, int(number.replace("-", "")), email, representative, title])  # a number, as Excel keeps it
    content = io.BytesIO()
    book.save(content)
    page = client.get(upload(client, open_agreement, content.getvalue(), "lista.xlsx").headers["Location"])
    text = page.get_data(as_text=True)
    assert "1 av 1 rader kan anslutas" in text and number in text


@pytest.mark.parametrize(
    "filename, content, message",
    [
        ("lista.pdf", b"%PDF", "Ladda upp listan som CSV (.csv) eller Excel (.xlsx)."),
        ("lista.xlsx", b"inte en zip", "Filen kunde inte läsas som en Excel-fil (.xlsx)."),
        ("lista.csv", b"Namn;Telefon\nA;1\n", "Saknas: Organisationsnummer, E-post, Firmatecknare."),
        ("lista.csv", HEADING.encode() + b"\n", "Listan har inga rader med organisationer."),
    ],
)
def test_a_list_that_cannot_be_read_says_why_in_swedish(
    app, client, official, open_agreement, filename, content, message
):
    response = upload(client, open_agreement, content, filename)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(app, Accession) == 0


def test_without_smtp_a_list_is_checked_but_not_sent(app, client, official, open_agreement):
    page = client.get(upload(client, open_agreement, csv_bytes(organisations(3))).headers["Location"])
    assert "E-post är inte inställd för tjänsten" in page.get_data(as_text=True)
    with app.extensions["db"].session() as session:
        found = session.scalars(select(Accession)).one()
        with pytest.raises(Conflict, match="E-post är inte inställd"):
            accession.accept(session, found, None, can_email=False)


def test_a_restart_midway_resumes_without_a_second_link(app, client, api_token, open_agreement, smtp_server):
    rows = [
        {"name": n, "org_number": o, "kind": "idéburen", "contact_email": e, "representative": {"name": r}}
        for n, o, e, r, _ in organisations(60)
    ]
    response = client.post(f"/api/agreements/{open_agreement}/parties", json=rows, headers=bearer(api_token))
    assert response.status_code == 202 and response.json["parties"] == 60
    accession_id = response.json["id"]
    # A run that joined a batch, issued its links and died before its emails went out.
    with app.extensions["db"].session() as session:
        found = session.get(Accession, accession_id)
        agreement = session.get(Agreement, found.agreement_id)
        serializer = signing.link_serializer(app.config["SECRET_KEY"])
        batch = accession._claim_batch(session, found, accession.stored_rows(app.extensions["files"], found))
        crashed = accession._join_batch(session, serializer, agreement, found, batch, app.config, audit.SYSTEM)
    assert len(crashed) == accession.BATCH
    # After the restart the queued job and the sweep both run, at the same time.
    runs = [threading.Thread(target=accession.join_and_send, args=(app, accession_id)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert set(links_per_party(app, open_agreement).values()) == {1}
    assert len(invitations(smtp_server)) == 60 - accession.BATCH
    status = client.get(response.json["url"], headers=bearer(api_token)).json
    assert status == {
        "id": accession_id,
        "status": "done",
        "total": 60,
        "emailed": 60 - accession.BATCH,
        "failed": 0,
        "unknown": accession.BATCH,
        "skipped": 0,
    }


def test_an_api_list_with_a_bad_row_stores_nothing(app, client, api_token, open_agreement, smtp_server):
    rows = [
        {"name": n, "org_number": o, "kind": "idéburen", "contact_email": e, "representative": {"name": r}}
        for n, o, e, r, _ in organisations(3)
    ]
    rows[1]["org_number"] = "802916-1464"
    rows[2]["contact_email"] = ""
    before = counts(app, open_agreement)
    response = client.post(f"/api/agreements/{open_agreement}/parties", json=rows, headers=bearer(api_token))
    assert response.status_code == 422
    assert response.json["message"] == "2 av 3 parter har fel. Inget är sparat."
    assert response.json["errors"] == [  # pointers to the items of the list sent
        {"pointer": "#/1", "message": "Organisationsnummer har fel kontrollsiffra."},
        {"pointer": "#/2", "message": "E-postadress måste fyllas i: länken skickas med e-post."},
    ]
    assert counts(app, open_agreement) == before


SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "hahahahahahahahahaha">'
    + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(9))
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    + b'<row r="1"><c r="A1" t="inlineStr"><is><t>&j;</t></is></c></row></sheetData></worksheet>'
)


@pytest.mark.parametrize(
    "content, message",
    [
        (shared_strings_bomb(64 * 1024**2), "Filen blir för stor uppackad"),
        (xlsx_with_member(SHEET, lambda f: f.write(b"<worksheet><sheetData><row><c>")), accession.NOT_AN_XLSX),
        (xlsx_with_member(SHEET, lambda f: f.write(LAUGHS)), accession.NOT_AN_XLSX),
    ],
    ids=["unpacks-to-64-MB", "broken-xml", "billion-laughs"],
)
def test_a_hostile_excel_list_is_refused_in_swedish_and_nothing_is_stored(
    app, client, official, open_agreement, content, message
):
    before = stored_files(app)
    response = upload(client, open_agreement, content, "lista.xlsx")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(app, Accession) == 0 and stored_files(app) == before


def test_a_stored_list_is_not_read_again_to_show_its_page(app, client, official, open_agreement):
    location = upload(client, open_agreement, csv_bytes(organisations(3))).headers["Location"]
    with app.extensions["db"].session() as session:
        list_file = session.scalars(select(Accession.file_sha256)).one()
    app.extensions["files"].path_for(list_file).unlink()  # the page must not need it
    page = client.get(location)
    assert page.status_code == 200 and "3 av 3 rader kan anslutas" in page.get_data(as_text=True)
