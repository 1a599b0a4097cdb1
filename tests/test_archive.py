"""The archive: finding agreements and downloading their final PDFs and audit trail."""

import csv
import hashlib
import io
import re

import pytest
from sqlalchemy import func, select, update

from service import agreements, users
from service.audit import CSV_COLUMNS, SYSTEM
from service.models import AccessionRecord, Agreement, AuditEvent, Base, FinalDocument, User, Version

from .helpers import (
    bearer,
    complete_iop,
    confirm,
    count,
    create_and_send,
    csrf_token,
    flat,
    handler_of,
    login,
    org_number,
    pdf_text,
    wait_for,
    wait_for_finals,
)


@pytest.fixture
def completed(app, client, api_token, iop_data, run_jobs):
    return complete_iop(app, client, api_token, iop_data)


@pytest.fixture
def archivist(app, make_user):
    """A test client logged in as an archivist."""
    user, password = make_user("archivist", "arkivarie@example.se")
    archive_client = app.test_client()
    assert login(archive_client, user.email, password).status_code == 302
    return archive_client


def found(archivist, agreement_id, **query) -> bool:
    response = archivist.get("/arkiv", query_string=query)
    assert response.status_code == 200
    return f'href="/arkiv/{agreement_id}"' in response.get_data(as_text=True)


@pytest.mark.slow
def test_archivist_finds_a_completed_agreement(client, api_token, halland_data, completed, archivist):
    draft = client.post("/api/agreements", json=halland_data, headers=bearer(api_token)).json["id"]

    assert found(archivist, completed) and not found(archivist, draft)  # Klart by default
    assert found(archivist, draft, status="") and found(archivist, draft, status="draft")
    assert not found(archivist, completed, status="sent")
    assert found(archivist, completed, q="Idéburen sektor") and found(archivist, completed, q="hållbart Skåne")
    assert found(archivist, completed, q="nätverket – idéburen")  # case folded beyond ASCII
    assert not found(archivist, completed, q="Hallandsbygdens")
    assert found(archivist, completed, org="802916-1463") and found(archivist, completed, org="8029161463")
    assert not found(archivist, completed, org=org_number("802479456"))
    assert found(archivist, completed, dnr="RS 2020/2741") and found(archivist, completed, dnr="2020/2741")
    assert not found(archivist, completed, dnr="RH 2019")
    assert found(archivist, completed, **{"from": "2022-01-01", "to": "2022-06-30"})
    assert found(archivist, completed, **{"from": "2024-12-31"}) and found(archivist, completed, to="2021-01-01")
    assert not found(archivist, completed, **{"from": "2025-01-01"})
    assert not found(archivist, completed, to="2020-12-31")

    html = archivist.get("/arkiv", query_string={"q": "Skåne"}).get_data(as_text=True)
    row = flat(re.sub(r"<[^>]+>", " ", html[html.index(f'href="/arkiv/{completed}"') :]))
    assert "RS 2020/2741" in row and "NÄTVERKET – Idéburen sektor Skåne" in row
    assert "2021-01-01 – 2024-12-31" in row
    assert "Klart 1" in row  # status, then the number of final versions


def test_invalid_dates_are_explained_in_swedish(archivist):
    response = archivist.get("/arkiv?from=2021-13-01&to=igår")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2021-01-01.") == 2
    assert 'id="from-error"' in html and 'aria-invalid="true"' in html and 'value="igår"' in html

    backwards = archivist.get("/arkiv?from=2022-01-01&to=2021-01-01").get_data(as_text=True)
    assert "Slutdatumet kan inte vara före startdatumet." in backwards
    assert "Välj en status i listan." in archivist.get("/arkiv?status=okänd").get_data(as_text=True)


@pytest.mark.slow
def test_the_final_pdf_and_every_accession_record_can_be_downloaded(
    app, client, api_token, halland_data, run_jobs, archivist
):
    agreement_id, links = create_and_send(client, api_token, halland_data)
    for link in links:
        assert confirm(client, link["url"], "Halmstad", "Eva Ek", "Ordförande").status_code == 200
    wait_for_finals(app, agreement_id)
    newcomer = dict(halland_data["parties"][1], name="Nya Föreningen i Varberg", org_number=org_number("802479456"))
    added = client.post(f"/api/agreements/{agreement_id}/parties", json=newcomer, headers=bearer(api_token))
    assert confirm(client, added.json["links"][0]["url"], "Varberg", "Ola Öst").status_code == 200
    wait_for(lambda: count(app, AccessionRecord, AccessionRecord.agreement_id == agreement_id) == 1)

    html = archivist.get(f"/arkiv/{agreement_id}").get_data(as_text=True)
    assert "Granskningsloggen är hel" in html
    assert "Nya Föreningen i Varberg" in html and "Ola Öst" in html and "Varberg" in html and "Eva Ek" in html
    with app.extensions["db"].session() as session:
        document = session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == agreement_id)).one()
    assert document.sha256 in html
    response = archivist.get(f"/arkiv/{agreement_id}/slutlig/1.pdf")
    assert response.status_code == 200 and hashlib.sha256(response.data).hexdigest() == document.sha256
    text = flat(pdf_text(response.data))
    assert text.count("Bekräftat elektroniskt") == 12 and "Ola Öst" not in text  # as the founding parties signed

    record = archivist.get(f"/avtal/{agreement_id}/anslutning-1.pdf")
    assert record.status_code == 200 and "Ola Öst" in flat(pdf_text(record.data))
    by_archivist = AuditEvent.actor == "user:arkivarie@example.se"
    assert count(app, AuditEvent, AuditEvent.event == "downloaded", by_archivist) == 2

    missing = archivist.get(f"/arkiv/{agreement_id}/slutlig/2.pdf")
    assert missing.status_code == 404 and "Avtalet har ingen slutlig version 2." in missing.get_data(as_text=True)
    assert archivist.get(f"/avtal/{agreement_id}/anslutning-2.pdf").status_code == 404


@pytest.mark.slow
def test_agreement_page_shows_parties_versions_and_finals(app, completed, archivist):
    html = flat(archivist.get(f"/arkiv/{completed}").get_data(as_text=True))
    with app.extensions["db"].session() as session:
        final = session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == completed)).one()
        version = session.get(Version, final.version_id)
    assert "Region Skåne" in html and "Anna Andersson" in html and "Kristianstad" in html and "Malmö" in html
    assert final.sha256 in html and f'href="/arkiv/{completed}/slutlig/1.pdf"' in html
    assert f'href="/arkiv/{completed}/logg.json"' in html and f'href="/arkiv/{completed}/logg.csv"' in html
    assert version.pdf_sha256 in html and "Granskningsloggen är hel" in html


@pytest.mark.slow
def test_every_frozen_version_can_be_downloaded(app, client, api_token, iop_data, archivist):
    agreement_id, _ = create_and_send(client, api_token, iop_data)
    iop_data["notice_months"] = 3
    with app.extensions["db"].session() as session:  # an edit after sending, then sent again
        agreement, official = session.get(Agreement, agreement_id), handler_of(session, agreement_id)
        agreements.update_draft(session, app.extensions["files"], agreement, iop_data, official, SYSTEM)
    assert client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token)).status_code == 200
    html = archivist.get(f"/arkiv/{agreement_id}").get_data(as_text=True)
    with app.extensions["db"].session() as session:
        versions = session.scalars(select(Version).where(Version.agreement_id == agreement_id)).all()
    assert len(versions) == 2
    for version in versions:
        url = f"/arkiv/{agreement_id}/version/{version.number}.pdf"
        assert f'href="{url}"' in html
        assert hashlib.sha256(archivist.get(url).data).hexdigest() == version.pdf_sha256
    assert archivist.get(f"/arkiv/{agreement_id}/version/3.pdf").status_code == 404
    with app.extensions["db"].session() as session:
        downloads = session.scalars(select(AuditEvent).where(AuditEvent.event == "downloaded")).all()
        assert sorted(e.details["version"] for e in downloads) == [1, 2]


@pytest.mark.slow
def test_audit_trail_as_json_and_csv(app, completed, archivist):
    with app.extensions["db"].session() as session:
        stored = session.scalars(select(AuditEvent).where(AuditEvent.agreement_id == completed)).all()
        hashes = [(e.id, e.prev_hash, e.hash) for e in stored]

    response = archivist.get(f"/arkiv/{completed}/logg.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    events = response.json["events"]
    assert [(e["id"], e["prev_hash"], e["hash"]) for e in events] == hashes
    assert {"created", "version_frozen", "link_issued", "confirmed", "final_assembled"} <= {e["event"] for e in events}
    assert events[0]["created_at"][-6:] in ("+01:00", "+02:00")  # Swedish time, with its offset
    confirmed = [e for e in events if e["event"] == "confirmed"]
    assert [e["details"]["place"] for e in confirmed] == ["Kristianstad", "Malmö"]

    response = archivist.get(f"/arkiv/{completed}/logg.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == CSV_COLUMNS
    assert [(int(r[0]), r[7], r[9]) for r in rows[1:-1]] == hashes
    assert rows[-1][2] == "Nedladdad" and '"what": "logg.json"' in rows[-1][6]  # the JSON download just before
    assert "Bekräftat" in [r[2] for r in rows] and any('"place": "Malmö"' in r[6] for r in rows)

    events = archivist.get(f"/arkiv/{completed}/logg.json").json["events"]
    downloaded = [e for e in events if e["event"] == "downloaded"]
    assert [e["details"]["what"] for e in downloaded] == ["logg.json", "logg.csv"]
    assert all(e["actor"] == "user:arkivarie@example.se" for e in downloaded)


def test_a_broken_chain_is_shown(app, client, api_token, iop_data, archivist):
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    with app.extensions["db"].session() as session:
        event_id = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.agreement_id == agreement_id))
        session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(actor="user:annan@example.se"))
    html = archivist.get(f"/arkiv/{agreement_id}").get_data(as_text=True)
    assert f"Granskningsloggen är inte hel: händelse {event_id}" in html and "har ändrats" in html


def row_counts(app) -> dict[str, int]:
    with app.extensions["db"].session() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def write_routes(app, agreement_id):
    """Every URL under /avtal and /api that takes a POST, PUT, PATCH or DELETE."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if rule.rule.startswith(("/avtal", "/api/")) and methods:
            values = dict.fromkeys(rule.arguments, agreement_id)
            for method in methods:
                yield method, adapter.build(rule.endpoint, values, method=method)


def test_archivist_cannot_change_anything(app, client, api_token, iop_data, archivist):
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    with app.extensions["db"].session() as session:
        user = session.scalars(select(User).where(User.email == "arkivarie@example.se")).one()
        token = users.issue_api_token(session, user)
    form_token = csrf_token(archivist.get("/arkiv").get_data(as_text=True))
    before = row_counts(app)

    routes = list(write_routes(app, agreement_id))
    assert ("POST", "/api/agreements") in routes
    for method, url in routes:
        if url.startswith("/api/"):
            assert archivist.open(url, method=method, json=iop_data).status_code == 401, url
            response = archivist.open(url, method=method, json=iop_data, headers=bearer(token))
            assert response.status_code == 403, url
        else:
            response = archivist.open(url, method=method, data={"csrf_token": form_token, "title": "Ändrad"})
            assert response.status_code == 403, url

    after = row_counts(app)
    assert after == before


def test_officials_and_admins_may_read_others_may_not(app, make_user):
    for role, allowed in (("official", True), ("admin", True)):
        user, password = make_user(role)
        reader = app.test_client()
        login(reader, user.email, password)
        assert (reader.get("/arkiv").status_code == 200) == allowed
    anonymous = app.test_client().get("/arkiv")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_unknown_agreement_is_a_swedish_404(archivist):
    for path in ("/arkiv/9999", "/arkiv/9999/logg.json", "/arkiv/9999/logg.csv", "/arkiv/9999/slutlig/1.pdf"):
        response = archivist.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 404 and "Sidan finns inte" in html, path
        assert "Det finns inget avtal med nummer 9999." in html
