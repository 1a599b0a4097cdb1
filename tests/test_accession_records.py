"""Open accession: organisations join the completed Halland överenskommelse one by one, each
with a sealed record of its own; the founding final PDF is never made again because of them."""

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service import accession_records, audit, party_register
from service.models import AccessionRecord, Agreement, FinalDocument, Party, PartyRegister

from .helpers import (
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    decline,
    login,
    org_number,
    pdf_text,
    post_on_page,
    send_and_confirm,
    wait_for,
    wait_for_finals,
)

pytestmark = pytest.mark.slow  # LibreOffice


def joining(i, **extra):
    """A new organisation, as the API takes it."""
    return {
        "name": f"Idrottsföreningen nr {i}",
        "org_number": org_number(str(200000000 + i)),
        "kind": "idéburen",
        "contact_email": f"kansli{i}@idrott.example.se",
        "representative": {"name": f"Företrädare {i}", "title": "Ordförande"},
        **extra,
    }


def join(client, api_token, agreement_id, party):
    return client.post(f"/api/agreements/{agreement_id}/parties", json=party, headers=bearer(api_token))


@pytest.fixture
def completed(app, client, api_token, halland_data, run_jobs):
    """The Halland överenskommelse confirmed by its founding parties, with its final PDF."""
    agreement_id, _ = send_and_confirm(client, api_token, halland_data)
    wait_for_finals(app, agreement_id)
    return agreement_id


def records(app, agreement_id):
    with app.extensions["db"].session() as session:
        rows = session.scalars(select(AccessionRecord).where(AccessionRecord.agreement_id == agreement_id))
        return [(r.number, r.party.name, r.sha256) for r in rows]


def test_a_joining_organisation_gets_a_sealed_record_and_the_final_pdf_stays(
    app, client, api_token, completed, smtp_server
):
    finals_before = count(app, FinalDocument, FinalDocument.agreement_id == completed)
    joined = join(client, api_token, completed, joining(1, contact_email="kansli1@idrott.example.se"))
    assert joined.status_code == 201
    assert confirm(client, joined.json["links"][0]["url"], "Halmstad", name="Företrädare 1").status_code == 200

    wait_for(lambda: records(app, completed))
    [(number, name, sha256)] = records(app, completed)
    assert (number, name) == (1, "Idrottsföreningen nr 1")
    record = client.get(f"/api/agreements/{completed}/records/1.pdf", headers=bearer(api_token))
    assert record.status_code == 200 and record.headers["Content-Type"] == "application/pdf"
    text = " ".join(pdf_text(record.data).split())
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, completed)
        frozen = agreement.versions[-1].pdf_sha256
        title = agreement.title
    assert "Anslutning 1" in text and title in text
    assert "Idrottsföreningen nr 1" in text and "Halmstad" in text and "Företrädare 1" in text
    assert frozen in text  # it names the text it confirmed by its SHA-256
    assert count(app, FinalDocument, FinalDocument.agreement_id == completed) == finals_before
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, completed).status == "completed"

    # The organisation gets its record by email, the agreement answer counts it.
    wait_for(lambda: any(m["Subject"].startswith("Anslutning:") for m in smtp_server.messages))
    mailed = next(m for m in smtp_server.messages if m["Subject"].startswith("Anslutning:"))
    assert mailed["To"] == "kansli1@idrott.example.se"
    [attached] = [part.get_content() for part in mailed.iter_attachments()]
    assert attached == record.data
    summary = client.get(f"/api/agreements/{completed}", headers=bearer(api_token)).json["joined"]
    assert (summary["joined"], summary["confirmed"], summary["records"]) == (1, 1, 1)
    page = client.get(summary["url"], headers=bearer(api_token)).json
    assert page["items"][0]["record"]["sha256"] == sha256 and page["next_cursor"] is None


def test_accession_is_refused_in_swedish_until_complete_and_for_an_iop_and_twice(
    app, client, api_token, halland_data, iop_data, run_jobs
):
    sent, _ = create_and_send(client, api_token, halland_data)
    refused = join(client, api_token, sent, joining(1))
    assert refused.status_code == 409 and "Avtalet måste vara klart" in refused.json["detail"]
    iop, _ = send_and_confirm(client, api_token, iop_data)
    refused = join(client, api_token, iop, joining(1))
    assert refused.status_code == 409 and "Bara en överenskommelse" in refused.json["detail"]

    complete, _ = send_and_confirm(client, api_token, halland_data)
    assert join(client, api_token, complete, joining(1)).status_code == 201
    again = join(client, api_token, complete, joining(1, name="Samma förening, nytt namn"))
    assert again.status_code == 409 and "redan part" in again.json["detail"]
    founding = halland_data["parties"][0]
    twice = join(client, api_token, complete, joining(2, org_number=founding["org_number"]))
    assert twice.status_code == 409
    assert count(app, Party, Party.agreement_id == complete, Party.acceded.is_(True)) == 1


def test_no_more_than_30000_organisations_may_join(app, client, api_token, completed, make_user):
    with app.extensions["db"].session() as session:
        session.execute(update(Agreement).where(Agreement.id == completed).values(acceded_count=29_999))
    assert join(client, api_token, completed, joining(1)).status_code == 201
    full = join(client, api_token, completed, joining(2))
    assert full.status_code == 422 and "Högst 30000 organisationer" in full.json["detail"]
    user, password = make_user("admin", "admin@region.example.se")
    login(client, user.email, password)
    rows = [f"Förening {i};{org_number(str(300000000 + i))};f{i}@example.se;Ombud {i};" for i in range(30_001)]
    content = "\n".join(["Namn;Organisationsnummer;E-post;Firmatecknare;Titel", *rows]).encode()
    listed = post_on_page(
        client,
        f"/avtal/{completed}/anslut-lista",
        f"/avtal/{completed}/anslut-lista",
        file=(io.BytesIO(content), "l.csv"),
    )
    assert listed.status_code == 400 and "Listan får ha högst 30000 organisationer." in listed.get_data(as_text=True)
    assert count(app, Party, Party.agreement_id == completed, Party.acceded.is_(True)) == 1


def test_a_crash_between_a_confirmation_and_its_record_is_made_up_for_once(app, client, api_token, halland_data):
    """No consumer runs: the confirmation commits, its job is lost; the sweep makes the record, once."""
    agreement_id, _ = send_and_confirm(client, api_token, halland_data)
    joined = join(client, api_token, agreement_id, joining(1))
    assert confirm(client, joined.json["links"][0]["url"], "Varberg").status_code == 200
    assert records(app, agreement_id) == []
    x = app.extensions
    with x["db"].session() as session:
        [missing] = accession_records.missing_records(session)
    made = accession_records.make_record(x["db"], x["files"], x["office"], x["seal"], missing)
    again = accession_records.make_record(x["db"], x["files"], x["office"], x["seal"], missing)
    assert made is not None and again is None
    assert [n for n, _, _ in records(app, agreement_id)] == [1]
    with x["db"].session() as session:
        assert accession_records.missing_records(session) == []


def test_a_declining_organisation_leaves_the_agreement_completed(app, client, api_token, completed):
    joined = join(client, api_token, completed, joining(1))
    assert decline(client, joined.json["links"][0]["url"], "Vi väntar till nästa år.").status_code == 200
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, completed).status == "completed"
    summary = client.get(f"/api/agreements/{completed}", headers=bearer(api_token)).json["joined"]
    assert (summary["joined"], summary["declined"], summary["records"]) == (1, 1, 0)


def test_the_register_lists_every_party_and_is_made_again_only_when_changed(
    app, client, api_token, completed, halland_data
):
    for i in (1, 2):
        joined = join(client, api_token, completed, joining(i))
        assert confirm(client, joined.json["links"][0]["url"], "Falkenberg").status_code == 200
    wait_for(lambda: len(records(app, completed)) == 2)
    x = app.extensions
    made = party_register.make(x["db"], x["files"], x["office"], x["seal"], completed, audit.SYSTEM)
    assert made is not None and made.rows == len(halland_data["parties"]) + 2
    assert party_register.make(x["db"], x["files"], x["office"], x["seal"], completed, audit.SYSTEM) is None

    # A third joins: the sweep makes a new register only once the last is a day old.
    joined = join(client, api_token, completed, joining(3))
    assert confirm(client, joined.json["links"][0]["url"], "Laholm").status_code == 200
    wait_for(lambda: len(records(app, completed)) == 3)
    with x["db"].session() as session:
        assert completed not in party_register.due(session)
        register = session.scalars(select(PartyRegister)).one()
        register.created_at -= timedelta(days=1)
        session.flush()
        assert completed in party_register.due(session)

    pdf = client.get(f"/api/agreements/{completed}/register.pdf", headers=bearer(api_token))
    text = " ".join(pdf_text(pdf.data).split())
    assert "Förteckning över undertecknande organisationer" in text
    assert halland_data["parties"][0]["name"] in text and "Anslutning 2" in text
    listed = client.get(f"/api/agreements/{completed}/register.csv", headers=bearer(api_token))
    rows = list(csv.reader(io.StringIO(listed.data.decode("utf-8-sig")), delimiter=";"))
    assert any("Idrottsföreningen nr 2" in row and "Falkenberg" in row for row in rows)


def test_the_agreement_page_shows_the_joined_a_page_at_a_time_and_asks_for_a_register(
    app, client, api_token, completed, make_user
):
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, completed)
        for i in range(accession_records.PAGE_SIZE + 5):
            session.add(
                Party(
                    agreement_id=completed,
                    position=100 + i,
                    name=f"Förening {i:03d}",
                    org_number=org_number(str(300000000 + i)),
                    acceded=True,
                )
            )
        agreement.acceded_count = accession_records.PAGE_SIZE + 5
    user, password = make_user("admin", "admin@region.example.se")
    login(client, user.email, password)
    first = client.get(f"/avtal/{completed}").get_data(as_text=True)
    assert "Förening 000" in first and f"Förening {accession_records.PAGE_SIZE - 1:03d}" in first
    assert f"Förening {accession_records.PAGE_SIZE:03d}" not in first
    assert f"{accession_records.PAGE_SIZE + 5} organisationer har anslutits" in first
    second = client.get(f"/avtal/{completed}?anslutna_efter={100 + accession_records.PAGE_SIZE - 1}")
    assert f"Förening {accession_records.PAGE_SIZE + 4:03d}" in second.get_data(as_text=True)

    asked = post_on_page(client, f"/avtal/{completed}", f"/avtal/{completed}/forteckning")
    assert asked.status_code == 302
    wait_for(lambda: count(app, PartyRegister, PartyRegister.agreement_id == completed) == 1)
    page = client.get(f"/avtal/{completed}").get_data(as_text=True)
    assert "Förteckning 1" in page and "Gör en ny förteckning nu" not in page
    download = client.get(f"/avtal/{completed}/forteckning-1.xlsx")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    token = csrf_token(page)
    again = client.post(f"/avtal/{completed}/forteckning", data={"csrf_token": token}, follow_redirects=True)
    assert "Förteckningen är redan aktuell" in again.get_data(as_text=True)
