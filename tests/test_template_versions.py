"""The region's templates: download, edit in Word (or LibreOffice), upload as a version, compare,
preview, activate; agreements keep the version they were frozen with."""

import io

import pytest
from docx import Document
from docx.oxml import parse_xml

from service import signing
from service.documents.fill import TEMPLATE_DIR
from service.models import Agreement, AuditEvent, CustomTemplate, TemplateChoice

from .helpers import (
    NEW_HEADING,
    NEW_SENTENCE,
    PARTIES_LOOP,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    docx_with,
    edited_as_word_does,
    final_pdf,
    flat,
    login,
    many_parties,
    path_of,
    pdf_text,
    saved_by_libreoffice,
    visible_text,
)


@pytest.fixture
def official(client, make_user):
    user, password = make_user("official", "handlaggare@region.example.se")
    login(client, user.email, password)
    return user


def upload(client, data, kind="overenskommelse", name="Hallands lydelse", note="Ny mening om uppföljning"):
    token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
    form = {"csrf_token": token, "name": name, "note": note, "kind": kind, "file": (io.BytesIO(data), "mall.docx")}
    return client.post("/avtal/mallar", data=form, content_type="multipart/form-data")


def post(client, url):
    token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


def frozen_pdf(app, agreement_id) -> bytes:
    with app.extensions["db"].session() as session:
        version = signing.latest_version(session, agreement_id)
        return app.extensions["files"].get(version.pdf_sha256)


@pytest.mark.slow
def test_a_version_edited_in_word_and_saved_by_libreoffice_reaches_every_new_agreement(
    app, client, official, api_token, halland_data, run_jobs, tmp_path
):
    data = many_parties(halland_data, 2)
    before_id, _ = create_and_send(client, api_token, data)  # made with the built-in version

    downloaded = client.get("/avtal/mallar/overenskommelse/inbyggd.docx")
    assert downloaded.status_code == 200
    assert downloaded.data == (TEMPLATE_DIR / "overenskommelse.docx").read_bytes()
    assert "{{ x.name }}" in visible_text(client.get("/avtal/mallar/overenskommelse/falt"))
    edited = saved_by_libreoffice(edited_as_word_does(downloaded.data), tmp_path)
    response = upload(client, edited)
    assert response.status_code == 302, visible_text(response)
    with app.extensions["db"].session() as session:
        version = session.query(CustomTemplate).one()
        version_id, version_sha = version.id, version.sha256
        assert version.note == "Ny mening om uppföljning"
    listing = visible_text(client.get("/avtal/mallar"))
    assert "Hallands lydelse Ny mening om uppföljning handlaggare@region.example.se" in listing
    assert count(app, TemplateChoice) == 0  # uploaded is not active

    diff = visible_text(client.get(f"/avtal/mallar/overenskommelse/jamfor?fran=inbyggd&till={version_id}"))
    assert f"Tillagt: + {NEW_HEADING}" in diff and "Borttaget: − Principerna, åtgärderna" in diff
    preview = client.get(f"/avtal/mallar/overenskommelse/{version_id}/forhandsgranska")
    assert NEW_SENTENCE in flat(pdf_text(preview.data))
    assert "Det gäller Överenskommelse mellan idéburna sektorn i Halland" in flat(pdf_text(preview.data))
    assert post(client, f"/avtal/mallar/overenskommelse/{version_id}/aktivera").status_code == 302

    agreement_id, links = create_and_send(client, api_token, data)
    frozen = flat(pdf_text(frozen_pdf(app, agreement_id)))
    assert NEW_SENTENCE in frozen and NEW_HEADING in frozen
    assert NEW_SENTENCE in visible_text(client.get(path_of(links[0]["url"])))
    for link, place in zip(links, ("Halmstad", "Varberg")):
        assert confirm(client, link["url"], place).status_code == 200
    assert NEW_SENTENCE in flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))
    with app.extensions["db"].session() as session:
        assert signing.latest_version(session, agreement_id).template_sha256 == version_sha

    old = flat(pdf_text(frozen_pdf(app, before_id)))  # the agreement made before keeps its version
    assert NEW_SENTENCE not in old and "Principerna, åtgärderna och ansvarspunkterna" in old
    status = client.get(f"/api/agreements/{before_id}", headers=bearer(api_token))
    assert status.status_code == 200


def tracked_change() -> bytes:
    doc = Document()
    doc.add_paragraph(PARTIES_LOOP)
    paragraph = doc.add_paragraph("Regionen betalar bidraget.")
    paragraph._p.append(
        parse_xml(
            '<w:ins xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" w:id="1" w:author="A">'
            "<w:r><w:t>Föreningen betalar.</w:t></w:r></w:ins>"
        )
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


BAD = {
    "not a docx": (b"%PDF-1.7 not a Word file", "inte ett giltigt Word-dokument"),
    "no party loop": (docx_with("{{ title }}"), "saknar slingan över parties (formulärets ”Parter”)"),
    "split over paragraphs": (
        docx_with(PARTIES_LOOP, "Avtalet heter {{ ti", "tle }} och gäller"),
        "En mallkod i stycket som börjar ”Avtalet heter {{ ti” börjar eller slutar i ett annat stycke",
    ),
    "tracked change": (tracked_change(), "spårade ändringar (infogad text) i stycket som börjar ”Regionen betalar"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_uploads_get_a_swedish_message_naming_the_place_and_nothing_is_activated(app, client, official, case):
    data, message = BAD[case]
    response = upload(client, data)
    assert response.status_code == 400
    assert message in visible_text(response)
    assert "Inget har sparats eller gjorts aktivt" in visible_text(response)
    assert count(app, CustomTemplate) == 0 and count(app, TemplateChoice) == 0


def test_an_active_version_cannot_be_retired_and_a_retired_one_keeps_its_drafts(
    app, client, official, api_token, iop_data
):
    template = docx_with("EGEN MALL {{ title }}", PARTIES_LOOP)
    assert upload(client, template, kind="iop").status_code == 302
    with app.extensions["db"].session() as session:
        version_id = session.query(CustomTemplate).one().id
    post(client, f"/avtal/mallar/iop/{version_id}/aktivera")
    retire = post(client, f"/avtal/mallar/iop/{version_id}/avveckla")
    assert "Versionen är aktiv och kan inte avvecklas" in visible_text(client.get(retire.headers["Location"]))

    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))  # uses the active version
    agreement_id = created.json["id"]
    post(client, "/avtal/mallar/iop/inbyggd/aktivera")
    post(client, f"/avtal/mallar/iop/{version_id}/avveckla")
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).template_id == version_id  # kept
    assert "Avvecklad" in visible_text(client.get("/avtal/mallar"))
    assert upload(client, docx_with("ANDRA MALLEN {{ title }}", PARTIES_LOOP), kind="iop").status_code == 302
    diff = visible_text(client.get(f"/avtal/mallar/iop/jamfor?fran={version_id}&till={version_id + 1}"))
    assert "Borttaget: − EGEN MALL {{ title }} Tillagt: + ANDRA MALLEN {{ title }}" in diff
    assert client.get(f"/avtal/mallar/iop/{version_id}.docx").data == template  # still downloadable


def test_new_drafts_use_the_active_version_and_show_its_headings_in_the_forms_contents(app, client, official):
    edited = edited_as_word_does((TEMPLATE_DIR / "overenskommelse.docx").read_bytes())
    assert upload(client, edited).status_code == 302
    with app.extensions["db"].session() as session:
        version_id = session.query(CustomTemplate).one().id
    assert f"{NEW_HEADING}, numrerade" not in visible_text(client.get("/avtal/ny?typ=overenskommelse"))
    post(client, f"/avtal/mallar/overenskommelse/{version_id}/aktivera")
    form = visible_text(client.get("/avtal/ny?typ=overenskommelse"))
    assert f"{NEW_HEADING}, numrerade 1, 2, 3" in form and "Hallands lydelse" in form
    post(client, "/avtal/mallar/overenskommelse/inbyggd/aktivera")
    post(client, f"/avtal/mallar/overenskommelse/{version_id}/avveckla")
    assert client.get(f"/avtal/ny?typ=overenskommelse&mall={version_id}").status_code == 404
    with app.extensions["db"].session() as session:
        events = [e.event for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert events == ["template_uploaded", "template_activated", "template_activated", "template_retired"]
