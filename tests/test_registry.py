"""What the registry (diariet) and the e-archive need of every agreement: a diarienummer in the
region's form before sending, a process from the admin's classification list, handlingstyp,
handläggare, enhet and a period, shown in the archive, searchable and written in the package."""

import io
import json
import zipfile

import pytest
from lxml import etree

from service import registry
from service.models import Agreement, Classification
from service.records import archive_package, fgs

from .helpers import bearer, complete_iop, count, csrf_token, field_error, login, problem_fields, visible_text


def add_process(app, code="3.2.1", label="Samverkan med idéburen sektor"):
    with app.extensions["db"].session() as session:
        registry.add_process(session, code, label)


@pytest.fixture
def admin(app, make_user):
    user, password = make_user("admin")
    client = app.test_client()
    login(client, user.email, password)
    return client


def test_the_admin_keeps_the_classification_list(app, admin):
    page = admin.get("/admin/processer")
    assert page.status_code == 200 and "Inga processer är inlagda ännu." in visible_text(page)
    token = csrf_token(page.get_data(as_text=True))
    added = admin.post("/admin/processer", data={"csrf_token": token, "code": "3.2.1", "label": "Samverkan"})
    assert added.status_code == 302
    again = admin.post("/admin/processer", data={"csrf_token": token, "code": "3.2.1", "label": "Annat"})
    assert again.status_code == 400
    assert field_error(again.get_data(as_text=True), "code") == "Det finns redan en process med koden 3.2.1."
    blank = admin.post("/admin/processer", data={"csrf_token": token, "code": " ", "label": "Utan kod"})
    assert blank.status_code == 400 and field_error(blank.get_data(as_text=True), "code") == "Koden måste fyllas i."
    assert count(app, Classification) == 1

    with app.extensions["db"].session() as session:
        process_id = session.query(Classification.id).scalar()
    admin.post(f"/admin/processer/{process_id}/avveckla", data={"csrf_token": token})
    text = visible_text(admin.get("/admin/processer"))
    assert "Avvecklad" in text and count(app, Classification) == 1  # retired, never removed


def test_a_process_not_on_the_list_is_refused_and_nothing_is_stored(app, client, api_token, iop_data):
    iop_data["classification"] = "9.9.9"
    refused = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert refused.status_code == 422
    assert refused.json["errors"] == [
        {"pointer": "#/classification", "message": "Klassificering (process) finns inte i listan över processer"}
    ]
    assert count(app, Agreement) == 0

    add_process(app, "9.9.9", "Övrig samverkan")
    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert created.status_code == 201 and created.json["missing"] == {}


def test_the_form_offers_the_processes_and_refuses_others(app, client, make_user, iop_data):
    add_process(app)
    user, password = make_user("official")
    login(client, user.email, password)
    form = client.get("/avtal/ny?typ=iop").get_data(as_text=True)
    assert '<option value="3.2.1">3.2.1 Samverkan med idéburen sektor</option>' in form
    fields = {"csrf_token": csrf_token(form), "title": "Ett avtal", "classification": "1.1.1", "action": "save"}
    response = client.post("/avtal/ny?typ=iop", data=fields)
    assert response.status_code == 400
    assert "finns inte i listan över processer" in field_error(response.get_data(as_text=True), "classification")
    assert count(app, Agreement) == 0


def test_a_diarienummer_is_needed_before_sending_in_the_configured_form(app, client, api_token, iop_data, monkeypatch):
    iop_data["registration_number"] = ""
    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert created.status_code == 201
    assert created.json["missing"] == {"registration_number": "Diarienummer måste fyllas i"}
    sent = client.post(f"/api/agreements/{created.json['id']}/send", headers=bearer(api_token))
    assert sent.status_code == 422
    assert {"pointer": "#/registration_number", "message": "Diarienummer måste fyllas i"} in sent.json["errors"]

    iop_data["registration_number"] = "diarienummer saknas"
    wrong = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert wrong.status_code == 422
    assert problem_fields(wrong)["#/registration_number"] == (
        "Diarienummer har fel form, skriv det till exempel RS 2020/2741"
    )
    assert count(app, Agreement) == 1  # only the draft without one

    monkeypatch.setenv("AVTAL_DNR_PATTERN", r"\d{2}-\d{3}")
    monkeypatch.setenv("AVTAL_DNR_EXAMPLE", "24-123")
    iop_data["registration_number"] = "RS 2020/2741"
    other = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert other.status_code == 422
    assert problem_fields(other)["#/registration_number"].endswith("till exempel 24-123")
    iop_data["registration_number"] = "24-123"
    assert client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).status_code == 201


def test_an_overenskommelse_has_a_period_the_archive_shows_and_finds(app, client, api_token, halland_data, make_user):
    halland_data["period"] = {"start": "2024-01-01", "end": "2024-12-31"}
    agreement_id = client.post("/api/agreements", json=halland_data, headers=bearer(api_token)).json["id"]
    user, password = make_user("archivist")
    archivist = app.test_client()
    login(archivist, user.email, password)
    found = archivist.get("/arkiv", query_string={"status": "", "from": "2024-06-01", "to": "2024-06-30"})
    assert f'href="/arkiv/{agreement_id}"' in found.get_data(as_text=True)
    missed = archivist.get("/arkiv", query_string={"status": "", "from": "2025-01-01", "to": "2025-06-30"})
    assert f'href="/arkiv/{agreement_id}"' not in missed.get_data(as_text=True)
    page = visible_text(archivist.get(f"/arkiv/{agreement_id}"))
    assert "Period 2024-01-01 – 2024-12-31" in page

    halland_data["period"] = {"start": "2024-12-31", "end": "2024-01-01"}
    ends_first = client.post("/api/agreements", json=halland_data, headers=bearer(api_token))
    assert ends_first.json["missing"]["period"] == "Period har ett slutdatum som inte är efter startdatum"


@pytest.mark.slow
def test_the_archive_and_the_package_carry_what_the_registry_needs(
    app, client, api_token, iop_data, run_jobs, make_user, tmp_path
):
    add_process(app)
    iop_data["classification"] = "3.2.1"
    app.config["SUBMISSION_AGREEMENT"] = "RA 2024/17 Leveransöverenskommelse avtal"
    agreement_id = complete_iop(app, client, api_token, iop_data)
    user, password = make_user("archivist")
    archivist = app.test_client()
    login(archivist, user.email, password)

    page = visible_text(archivist.get(f"/arkiv/{agreement_id}"))
    for text in (
        "Diarienummer RS 2020/2741",
        "Klassificering 3.2.1 Samverkan med idéburen sektor",
        "Handlingstyp IOP-avtal",
        "Handläggare Anna Lind",
        "Enhet Regionala utvecklingsförvaltningen",
    ):
        assert text in page, text
    search = archivist.get("/arkiv", query_string={"q": "utvecklingsförvaltningen"}).get_data(as_text=True)
    assert f'href="/arkiv/{agreement_id}"' in search

    response = archivist.get(f"/arkiv/{agreement_id}/arkivpaket.zip")
    filename = response.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert filename.startswith(f"avtal-{agreement_id}-RS-2020-2741_uuid-")
    with zipfile.ZipFile(io.BytesIO(response.data)) as package:
        (root,) = {name.split("/")[0] for name in package.namelist()}
        case = fgs.Description.model_validate_json(package.read(f"{root}/metadata/descriptive/arende.json"))
        dc = package.read(f"{root}/metadata/descriptive/dc.xml").decode("utf-8")
        mets = etree.fromstring(package.read(f"{root}/METS.xml"))
        schema = json.loads(package.read(f"{root}/schemas/arende.schema.json"))
        names = package.namelist()
    assert case.arende.diarienummer == "RS 2020/2741" and case.arende.handlaggare == "Anna Lind"
    assert case.arende.klassificering == fgs.Process(kod="3.2.1", benamning="Samverkan med idéburen sektor")
    assert case.arende.enhet == "Regionala utvecklingsförvaltningen" and str(case.arende.period.fran) == "2021-01-01"
    assert {d.handlingstyp for d in case.arende.handlingar} >= {"Slutligt avtal", "Granskningslogg"}
    assert all(f"{root}/{d.fil}" in names for d in case.arende.handlingar)
    assert "diarienummer" in schema["$defs"]["Case"]["properties"]
    for text in (
        "<dc:subject>Klassificering 3.2.1 Samverkan med idéburen sektor</dc:subject>",
        "<dc:type>IOP-avtal</dc:type>",
        "<dc:creator>Regionala utvecklingsförvaltningen, Region Skåne</dc:creator>",
        "<dc:description>Handläggare: Anna Lind</dc:description>",
        "<dc:coverage>2021-01-01/2024-12-31</dc:coverage>",
    ):
        assert text in dc, text
    ns = archive_package.METS_NS
    assert mets.findtext("mets:metsHdr/mets:altRecordID[@TYPE='SUBMISSIONAGREEMENT']", namespaces=ns) == (
        "RA 2024/17 Leveransöverenskommelse avtal"
    )
    assert mets.find("mets:dmdSec/mets:mdRef[@OTHERMDTYPE='FGS-ARENDE-JSON']", ns) is not None


@pytest.mark.slow
def test_a_draft_without_a_diarienummer_is_previewed_but_not_offered_for_sending(
    app, client, api_token, iop_data, make_user
):
    iop_data["registration_number"] = ""
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    user, password = make_user("official")
    official = app.test_client()
    login(official, user.email, password)
    response = official.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert response.status_code == 200 and "Sida 1 av" in response.get_data(as_text=True)
    assert "Skicka för signering" not in visible_text(response)
