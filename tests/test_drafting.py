"""The officials' pages through the test client, with the real database and LibreOffice."""

import hashlib
import io
import re
from html import unescape
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from service import forms
from service.models import Agreement, AuditEvent, CustomTemplate, FinalDocument, SigningLink, Version

from .helpers import (
    PARTIES_LOOP,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    docx_with,
    field_error,
    final_pdf,
    flat,
    login,
    org_number,
    path_of,
    pdf_text,
    post_on_page,
    stored_files,
    upload_template,
    user_client,
    visible_text,
    wait_for,
)


def post_form(client, url, data, action="save"):
    token = csrf_token(client.get(url).get_data(as_text=True))
    return client.post(url, data={**forms.to_form(data), "csrf_token": token, "action": action})


def create(client, data):
    response = post_form(client, f"/avtal/ny?typ={data['kind']}", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def stored(app, agreement_id) -> Agreement:
    with app.extensions["db"].session() as session:
        return session.get(Agreement, agreement_id)


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def value_of(html, name) -> str:
    match = re.search(rf'<input id="{name}" name="{name}" type="[a-z]+" value="([^"]*)"', html)
    return unescape(match.group(1))


def send(client, agreement_id):
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    response = client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": csrf_token(overview)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.findall(r'value="(http://[^"]+/sign/[^"]+)"', response.get_data(as_text=True))


def test_only_officials_get_in(client, make_user):
    assert client.get("/avtal").status_code == 302  # to the login page
    user, password = make_user("archivist")
    login(client, user.email, password)
    for url in ("/avtal", "/avtal/ny?typ=iop", "/avtal/1", "/avtal/1/logg"):
        assert client.get(url).status_code == 403
    assert "Ingen behörighet" in client.get("/avtal").get_data(as_text=True)


def test_new_iop_form_starts_with_defaults(client, official):
    html = client.get("/avtal/ny?typ=iop").get_data(as_text=True)
    assert "<legend>Grunduppgifter</legend>" in html and "<legend>Uppsägning</legend>" in html
    assert value_of(html, "principles-5") == "mångfald"
    assert 'id="parties-1-name"' in html and 'id="parties-2-name"' not in html
    assert client.get("/avtal/ny?typ=annat").status_code == 404


def test_creating_the_skane_iop_through_the_form_stores_the_example(app, client, official, iop_data):
    response = post_form(client, "/avtal/ny?typ=iop", iop_data)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Utkastet är sparat." in text_of(page) and "Region Skåne" in text_of(page)
    agreement = stored(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert agreement.status == "draft" and agreement.data == iop_data


def test_creating_the_halland_agreement_and_editing_it(app, client, official, halland_data):
    agreement_id = create(client, halland_data)
    assert stored(app, agreement_id).data == halland_data
    form = client.get(f"/avtal/{agreement_id}/redigera").get_data(as_text=True)
    assert value_of(form, "parties-11-name") == "Hallands Kyrkliga Samarbetsråd"

    halland_data["goals_heading"] = "Målbild 2026"
    assert post_form(client, f"/avtal/{agreement_id}/redigera", halland_data).status_code == 302
    assert stored(app, agreement_id).data["goals_heading"] == "Målbild 2026"


def test_a_draft_with_a_wrong_check_digit_saves_and_the_form_points_at_it(app, client, official, iop_data):
    iop_data["parties"][1]["org_number"] = "802916-1464"
    iop_data["activities"][3] = "En insats som <inte> får försvinna & inte heller detta"
    response = post_form(client, "/avtal/ny?typ=iop", iop_data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/redigera")
    response = client.get(response.headers["Location"])
    html = response.get_data(as_text=True)
    assert "Utkastet är sparat. Fyll i det som saknas" in visible_text(response)
    assert "Det här saknas innan avtalet kan skickas" in html
    assert "Organisationsnummer har fel kontrollsiffra" in field_error(html, "parties-1-org_number")
    assert '<a href="#parties-1-org_number">' in html
    assert re.search(
        r'id="parties-1-org_number"[^>]*aria-describedby="[^"]*parties-1-org_number-error"[^>]*'
        r'aria-invalid="true"',
        html,
    )
    assert value_of(html, "parties-1-org_number") == "802916-1464"
    assert value_of(html, "activities-3") == iop_data["activities"][3]
    assert value_of(html, "parties-0-resources-amount_kr") == "1750000"
    assert value_of(html, "title") == iop_data["title"]
    assert iop_data["follow_up"] in text_of(response)
    with app.extensions["db"].session() as session:
        agreement = session.scalars(select(Agreement)).one()
        assert agreement.status == "draft" and agreement.data["parties"][1]["org_number"] == "802916-1464"


def test_an_empty_form_saves_as_a_draft_that_names_every_missing_field(app, client, official):
    response = post_form(client, "/avtal/ny?typ=iop", forms.new_agreement("iop"))
    assert response.status_code == 302
    agreement_id = int(response.headers["Location"].split("/")[-2])
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert field_error(html, "title") == "Titel måste fyllas i"
    assert field_error(html, "parties-0-name") == "Part 1: Namn måste fyllas i"
    assert field_error(html, "parties-0-org_number") == "Part 1: Organisationsnummer måste fyllas i"
    assert field_error(html, "period-start") == "Period: Startdatum måste fyllas i"
    assert field_error(html, "notice_months") == "Uppsägningstid (månader) måste fyllas i"

    overview = client.get(f"/avtal/{agreement_id}")
    text = visible_text(overview)
    assert "Namnlöst utkast" in text and "Det här saknas innan avtalet kan skickas" in text
    assert "Part 2: Organisationsnummer måste fyllas i" in text and "ska ha tio siffror" not in text
    assert "Skicka för signering" not in text
    token = csrf_token(overview.get_data(as_text=True))
    refused = client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": token}, follow_redirects=True)
    assert "Avtalet kan inte skickas förrän det här är ifyllt: Titel måste fyllas i" in visible_text(refused)
    assert stored(app, agreement_id).status == "draft"


def test_text_that_can_never_be_stored_is_refused_and_kept_in_the_form(app, client, official, iop_data):
    iop_data["title"] = "Rubrik \u202e med dold vändning"
    response = post_form(client, "/avtal/ny?typ=iop", iop_data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Formuläret har 1 fel som måste rättas" in html
    assert "osynliga tecken" in field_error(html, "title")
    with app.extensions["db"].session() as session:
        assert session.scalars(select(Agreement)).first() is None


def test_end_before_start_points_at_the_end_date(client, official, iop_data):
    iop_data["period"]["end"] = "2020-01-01"
    saved = post_form(client, "/avtal/ny?typ=iop", iop_data)
    html = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "slutdatum som inte är efter startdatum" in field_error(html, "period-end")
    assert '<a href="#period-end">' in html


def test_the_form_has_a_table_of_contents_with_the_documents_section_numbers(client, official):
    html = client.get("/avtal/ny?typ=iop").get_data(as_text=True)
    contents = re.search(r'<nav class="drafting-contents".*?</nav>', html, re.S).group(0)
    entries = re.findall(r'<a href="#([a-z]+)">([^<]+)</a>', contents)
    assert ("samverkan", "7. Organisation och samverkan") in entries
    assert ("uppsagning", "10. Uppsägning") in entries
    for anchor, _ in entries:
        assert f'id="{anchor}"' in html


def test_adding_and_removing_parties_without_script(app, client, official, iop_data):
    iop_data["title"] = "Titel som ska finnas kvar"
    added = post_form(client, "/avtal/ny?typ=iop", iop_data, action="add:parties")
    html = added.get_data(as_text=True)
    assert added.status_code == 200 and "field__error" not in html
    assert value_of(html, "parties-2-name") == "" and value_of(html, "title") == "Titel som ska finnas kvar"
    assert 'value="remove:parties:2"' in html

    form = {**forms.to_form(iop_data), "csrf_token": csrf_token(html), "action": "remove:parties:0"}
    removed = client.post("/avtal/ny?typ=iop", data=form).get_data(as_text=True)
    assert value_of(removed, "parties-0-name") == "NÄTVERKET – Idéburen sektor Skåne"
    assert 'id="parties-1-name"' not in removed

    form["action"] = "remove:nonsense:0"
    assert client.post("/avtal/ny?typ=iop", data=form).status_code == 400


def test_empty_rows_are_left_out_when_saving(app, client, official, iop_data):
    form = {**forms.to_form(iop_data), "goals-6-heading": "", "goals-6-text": "", "activities-20": "  "}
    form["csrf_token"] = csrf_token(client.get("/avtal/ny?typ=iop").get_data(as_text=True))
    response = client.post("/avtal/ny?typ=iop", data=form)
    assert stored(app, int(response.headers["Location"].rsplit("/", 1)[1])).data == iop_data


def test_hostile_input_is_shown_as_text(app, client, official, iop_data):
    iop_data["title"] = "<script>alert(1)</script>"
    iop_data["parties"][1]["name"] = "{{ 7*7 }} Förening"
    agreement_id = create(client, iop_data)
    for url in ("/avtal", f"/avtal/{agreement_id}", f"/avtal/{agreement_id}/redigera", "/avtal?q=script"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    assert "{{ 7*7 }} Förening" in overview and "49 Förening" not in overview


@pytest.mark.slow
def test_list_search_and_status_filter(app, client, official, iop_data, halland_data):
    iop_id = create(client, iop_data)
    create(client, halland_data)
    listing = text_of(client.get("/avtal"))
    assert "RS 2020/2741" in listing and "Överenskommelse" in listing and listing.count('class="badge') == 2
    by_party = text_of(client.get("/avtal", query_string={"q": "Vuxenskolan"}))
    assert halland_data["title"] in by_party
    assert iop_data["title"] not in by_party
    send(client, iop_id)
    sent = text_of(client.get("/avtal", query_string={"status": "sent"}))
    assert "Skickat – 0 av 2 har bekräftat" in sent and halland_data["title"] not in sent


@pytest.mark.slow
def test_preview_shows_page_images(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    page = client.get(f"/avtal/{agreement_id}/forhandsgranska")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    images = re.findall(r'<img src="([^"]+\.png)" alt="Sida (\d+) av (\d+)"', html)
    assert len(images) == int(images[0][2]) >= 5
    first = client.get(images[0][0])
    assert first.status_code == 200 and first.mimetype == "image/png" and first.data[:8] == b"\x89PNG\r\n\x1a\n"
    sha = images[0][0].split("/")[-2]
    assert client.get(f"/avtal/{agreement_id}/forhandsgranska/{sha}/99.png").status_code == 404
    assert client.get(f"/avtal/{agreement_id}/forhandsgranska/..%2f..%2fsecret_key/1.png").status_code == 404
    assert client.get(f"/avtal/{agreement_id}/forhandsgranska/{'0' * 64}/1.png").status_code == 404
    pdf = client.get(f"/avtal/{agreement_id}/forhandsgranska/{sha}.pdf")
    assert pdf.mimetype == "application/pdf" and "1 750 000 kr" in flat(pdf_text(pdf.data))
    assert client.get(f"/avtal/{agreement_id}/forhandsgranska/{'0' * 64}.pdf").status_code == 404
    with app.extensions["db"].session() as session:  # a preview freezes nothing
        assert session.get(Agreement, agreement_id).status == "draft"
        assert session.scalars(select(AuditEvent.event)).all() == ["created"]


@pytest.mark.slow
def test_a_repeat_preview_of_an_unchanged_draft_does_not_convert_again(app, client, official, iop_data):
    office = app.extensions["office"]
    conversions, counting = [], office.on_conversion
    office.on_conversion = lambda host, seconds, ok: conversions.append(ok)
    try:
        agreement_id = create(client, iop_data)
        url = f"/avtal/{agreement_id}/forhandsgranska"
        images = [re.findall(r'<img src="([^"]+)"', client.get(url).get_data(as_text=True)) for _ in range(2)]
        assert conversions == [True] and images[0] == images[1]
        iop_data["notice_months"] = 3
        post_form(client, f"/avtal/{agreement_id}/redigera", iop_data)
        changed = re.findall(r'<img src="([^"]+)"', client.get(url).get_data(as_text=True))
        assert conversions == [True, True] and changed != images[0]
    finally:
        office.on_conversion = counting


@pytest.mark.slow
def test_preview_pages_open_at_full_size_and_the_preview_can_send(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    html = client.get(f"/avtal/{agreement_id}/forhandsgranska").get_data(as_text=True)
    large = re.search(r'<a href="([^"]+\.png\?storlek=stor)"', html).group(1).replace("&amp;", "&")
    image = Image.open(io.BytesIO(client.get(large).data))
    assert image.width == 1240
    assert f'action="/avtal/{agreement_id}/skicka"' in html and "Skicka för signering" in html
    response = client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 200 and stored(app, agreement_id).status == "sent"


@pytest.mark.slow
def test_without_smtp_the_links_page_does_not_claim_anything_was_emailed(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    text = visible_text(client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": csrf_token(overview)}))
    assert "Avtalet är skickat för signering" not in text
    assert "Avtalet är låst för signering: ge parterna länkarna" in text
    assert text.count("Ingen e-post skickad: e-post är inte inställd för tjänsten. Ge parten länken själv.") == 2


@pytest.mark.slow
def test_with_smtp_the_links_page_says_per_party_where_the_email_went(app, client, official, iop_data, smtp_server):
    iop_data["parties"][1]["contact_email"] = ""
    agreement_id = create(client, iop_data)
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    text = visible_text(client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": csrf_token(overview)}))
    assert "Avtalet är låst för signering" in text  # one party still needs its link by hand
    email = iop_data["parties"][0]["contact_email"]
    assert f"E-post med länken är skickad till {email}." in text
    assert "Parten har ingen e-postadress. Ge parten länken själv." in text
    assert [m["To"] for m in smtp_server.messages] == [email]
    with app.extensions["db"].session() as session:
        assert sorted(session.scalars(select(SigningLink.delivery))) == ["", "emailed"]


@pytest.mark.slow
def test_a_frozen_agreement_shows_its_locked_version_not_a_preview(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    send(client, agreement_id)
    html = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    assert "Visa låst version" in html and "Förhandsgranska" not in html
    locked = client.get(f"/avtal/{agreement_id}/version/1.pdf")
    assert locked.mimetype == "application/pdf" and locked.headers["Content-Disposition"].startswith("inline")
    with app.extensions["db"].session() as session:
        version = session.scalars(select(Version).where(Version.agreement_id == agreement_id)).one()
        assert hashlib.sha256(locked.data).hexdigest() == version.pdf_sha256
    assert client.get(f"/avtal/{agreement_id}/version/2.pdf").status_code == 404


@pytest.mark.slow
def test_sending_shows_links_that_work(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    links = send(client, agreement_id)
    assert len(links) == 2
    for url in links:
        assert client.get(path_of(url)).status_code == 200
    overview = text_of(client.get(f"/avtal/{agreement_id}"))
    assert "Skickat – 0 av 2 har bekräftat" in overview and overview.count("Återkalla länk") == 2


@pytest.mark.slow
def test_a_sent_agreement_is_not_frozen_again_and_its_answers_still_count(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    again = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token))
    assert again.status_code == 409
    assert again.json["detail"] == "Avtalet är redan skickat för signering. Ändra texten om en ny version ska skickas."
    assert count(app, Version, Version.agreement_id == agreement_id) == 1
    standing = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert [party["status"] for party in standing["parties"]] == ["confirmed", "pending"]
    assert client.get(path_of(links[1]["url"])).status_code == 200  # the other party's link still works


@pytest.mark.slow
def test_send_page_is_not_cached_and_says_the_links_are_shown_once(client, official, iop_data):
    agreement_id = create(client, iop_data)
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    response = client.post(f"/avtal/{agreement_id}/skicka", data={"csrf_token": csrf_token(overview)})
    assert "Länkarna visas bara nu." in text_of(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.slow
def test_revoking_and_reissuing_a_link(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    links = send(client, agreement_id)
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    revoke_url = re.findall(r'action="(/avtal/\d+/parter/\d+/aterkalla)"', overview)[0]
    response = client.post(revoke_url, data={"csrf_token": csrf_token(overview)}, follow_redirects=True)
    assert "Länken till Region Skåne är återkallad." in text_of(response)
    assert client.get(path_of(links[0])).status_code == 410
    assert "Ingen giltig länk" in text_of(response)

    reissue_url = revoke_url.replace("aterkalla", "ny-lank")
    page = client.post(reissue_url, data={"csrf_token": csrf_token(overview)})
    new_links = re.findall(r'value="(http://[^"]+/sign/[^"]+)"', page.get_data(as_text=True))
    assert "Ny länk till Region Skåne" in text_of(page) and len(new_links) == 1
    assert client.get(path_of(new_links[0])).status_code == 200


@pytest.mark.slow
def test_editing_a_sent_agreement_warns_and_outdates_the_links(app, client, official, iop_data):
    agreement_id = create(client, iop_data)
    links = send(client, agreement_id)
    form = text_of(client.get(f"/avtal/{agreement_id}/redigera"))
    assert "Avtalet är skickat. Om du sparar ändringar slutar de skickade länkarna att gälla" in form
    iop_data["notice_months"] = 6
    assert post_form(client, f"/avtal/{agreement_id}/redigera", iop_data).status_code == 302
    assert client.get(path_of(links[0])).status_code == 410
    assert stored(app, agreement_id).status == "draft"


@pytest.mark.slow
def test_completed_agreement_final_pdf_and_log(app, client, official, iop_data, run_jobs):
    agreement_id = create(client, iop_data)
    for url, place in zip(send(client, agreement_id), ("Kristianstad", "Malmö")):
        assert confirm(client, url, place).status_code == 200

    def final_ready():
        with app.extensions["db"].session() as session:
            return session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == agreement_id)).first()

    wait_for(final_ready)
    overview = visible_text(client.get(f"/avtal/{agreement_id}"))
    assert "Bekräftat av Anna Andersson, Ordförande, Kristianstad" in overview
    assert "Redigera" not in overview and "Slutlig PDF 1" in overview
    assert overview.index("Slutlig PDF 1") < overview.index("Parter")  # the final PDF comes first

    download = client.get(f"/avtal/{agreement_id}/slutlig/1.pdf")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert client.get(f"/avtal/{agreement_id}/slutlig/2.pdf").status_code == 404

    log = text_of(client.get(f"/avtal/{agreement_id}/logg"))
    for label in (
        "Utkast skapat",
        "Version låst för signering",
        "Länk skickad",
        "Bekräftat",
        "Slutlig PDF skapad",
        "Nedladdad",
    ):
        assert label in log
    assert "handlaggare@region.example.se" in log and "user:" not in log and "Kristianstad" in log

    form = client.get(f"/avtal/{agreement_id}/redigera").get_data(as_text=True)
    response = client.post(
        f"/avtal/{agreement_id}/redigera", data={**forms.to_form(iop_data), "csrf_token": csrf_token(form)}
    )
    assert response.status_code == 409
    assert "Avtalet är klart och kan inte ändras." in text_of(response)


@pytest.mark.slow
def test_a_new_organisation_joins_a_completed_overenskommelse(app, client, official, halland_data):
    agreement_id = create(client, halland_data)
    links = send(client, agreement_id)
    assert "Anslut ny part" not in client.get(f"/avtal/{agreement_id}").get_data(as_text=True)  # not complete yet
    for link in links:
        assert confirm(client, link, "Halmstad").status_code == 200
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    assert "Anslut ny part" in overview and 'id="parties-12-name"' in overview
    newcomer = {
        "parties-12-name": "Nya Föreningen i Varberg",
        "parties-12-org_number": "802479-4560",
        "parties-12-kind": "idéburen",
        "parties-12-contact_email": "info@nya.example.se",
        "parties-12-representative-name": "Eva Ek",
        "csrf_token": csrf_token(overview),
    }
    refused = client.post(f"/avtal/{agreement_id}/anslut", data=newcomer)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "fel kontrollsiffra" in field_error(html, "parties-12-org_number")
    assert value_of(html, "parties-12-name") == "Nya Föreningen i Varberg"

    newcomer["parties-12-org_number"] = org_number("802479456")
    joined = client.post(f"/avtal/{agreement_id}/anslut", data=newcomer)
    assert "Nya Föreningen i Varberg är ansluten" in text_of(joined)
    link = re.findall(r'value="(http://[^"]+/sign/[^"]+)"', joined.get_data(as_text=True))[0]
    assert client.get(path_of(link)).status_code == 200
    page = text_of(client.get(f"/avtal/{agreement_id}"))
    assert "Nya Föreningen i Varberg" in page and "1 organisationer har anslutits" in page
    assert stored(app, agreement_id).status == "completed" and len(stored(app, agreement_id).data["parties"]) == 12


@pytest.mark.slow
def test_iop_cannot_take_new_parties(client, official, iop_data):
    agreement_id = create(client, iop_data)
    send(client, agreement_id)
    overview = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    assert "Anslut ny part" not in overview
    response = client.post(
        f"/avtal/{agreement_id}/anslut", data={"csrf_token": csrf_token(overview)}, follow_redirects=True
    )
    assert "Bara en överenskommelse kan ta emot nya parter." in text_of(response)


# --- uploaded Word templates ---


def custom_templates_count(app):
    with app.extensions["db"].session() as session:
        return len(session.scalars(select(CustomTemplate)).all())


@pytest.mark.slow
def test_an_uploaded_template_lists_its_fields_and_fills_a_new_agreement(app, client, official, iop_data):
    response = upload_template(
        client, docx_with("EGEN MALL: {{ title }}", "{% for p in parties %}{{ p.name }}; {% endfor %}")
    )
    assert response.status_code == 302
    listing = visible_text(client.get("/avtal/mallar"))
    assert "Mallen Vår mall är sparad som en ny version, ännu inte aktiv. Den använder: parties och title." in listing
    with app.extensions["db"].session() as session:
        template_id = session.scalars(select(CustomTemplate.id)).one()

    form_url = f"/avtal/ny?typ=iop&mall={template_id}"
    assert "den uppladdade mallen Vår mall" in visible_text(client.get(form_url))
    token = csrf_token(client.get(form_url).get_data(as_text=True))
    saved = client.post(form_url, data={**forms.to_form(iop_data), "csrf_token": token, "action": "save"})
    agreement_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    assert stored(app, agreement_id).template_id == template_id

    preview = client.get(f"/avtal/{agreement_id}/forhandsgranska")
    sha = re.search(r"/forhandsgranska/([0-9a-f]{64})/1\.png", preview.get_data(as_text=True)).group(1)
    pdf = client.get(f"/avtal/{agreement_id}/forhandsgranska/{sha}.pdf").data
    assert "EGEN MALL: Ett Idéburet Offentligt Partnerskap" in flat(pdf_text(pdf))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"PK\x03\x04 trasig", "Filen är inte ett giltigt Word-dokument (.docx)."),
        (None, "försöker nå det interna attributet '__init__', vilket sandlådan inte tillåter."),
        (None, "variabler som tjänsten inte känner till: salary (i stycket som börjar ”{{ salary }}”)."),
        (None, "Mallen använder variabeln final."),
    ],
)
def test_a_refused_template_says_why_and_stores_nothing(app, client, official, data, reason):
    if data is None:
        templates = {"__init__": "{{ cycler.__init__.__globals__ }}", "final": "{% if final %}Annat{% endif %}"}
        data = docx_with(next((t for key, t in templates.items() if key in reason), "{{ salary }}"))
    response = upload_template(client, data)
    assert response.status_code == 400
    assert reason in visible_text(response)
    assert custom_templates_count(app) == 0
    with app.extensions["db"].session() as session:
        (refusal,) = session.scalars(select(AuditEvent).where(AuditEvent.event == "template_refused")).all()
        assert refusal.details["sha256"] == hashlib.sha256(data).hexdigest() and refusal.actor.endswith(official.email)
        assert any(reason in r for r in refusal.details["reasons"])


def test_upload_without_a_file_is_marked_at_the_field(app, client, official):
    token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
    response = client.post("/avtal/mallar", data={"csrf_token": token, "kind": "iop"})
    assert response.status_code == 400
    assert field_error(response.get_data(as_text=True), "file") == "Välj en Word-fil (.docx) att ladda upp."


def test_a_template_for_another_kind_cannot_be_chosen(app, client, official):
    assert upload_template(client, docx_with("{{ title }}", PARTIES_LOOP), kind="overenskommelse").status_code == 302
    with app.extensions["db"].session() as session:
        template_id = session.scalars(select(CustomTemplate.id)).one()
    assert client.get(f"/avtal/ny?typ=iop&mall={template_id}").status_code == 404


@pytest.mark.slow
def test_only_handlaggare_and_admins_change_an_agreement_or_issue_links(app, make_user, iop_data):
    anna, anna_token = user_client(app, make_user, "official", "anna@example.se")
    bertil, bertil_token = user_client(app, make_user, "official", "bertil@example.se")
    admin, _ = user_client(app, make_user, "admin", "admin@example.se")
    agreement_id, _ = create_and_send(anna, anna_token, iop_data)
    page = f"/avtal/{agreement_id}"
    with app.extensions["db"].session() as session:
        party_id = session.get(Agreement, agreement_id).parties[1].id
    reissue = f"{page}/parter/{party_id}/ny-lank"
    links_before = count(app, SigningLink)

    overview = bertil.get(page)  # another official reads, and is told why he cannot act
    assert overview.status_code == 200 and "Bara dess handläggare och administratörer" in visible_text(overview)
    refused = post_on_page(bertil, page, reissue)
    assert "Bara avtalets handläggare" in visible_text(bertil.get(refused.headers["Location"]))
    assert bertil.get(f"{page}/redigera").status_code == 403
    api = bertil.post(f"/api/agreements/{agreement_id}/send", headers=bearer(bertil_token))
    assert api.status_code == 403 and "handläggare" in api.json["message"]
    assert count(app, SigningLink) == links_before

    added = post_on_page(anna, page, f"{page}/handlaggare", email="bertil@example.se")
    assert "bertil@example.se är nu handläggare" in visible_text(anna.get(added.headers["Location"]))
    links_page = post_on_page(bertil, page, reissue)
    assert links_page.status_code == 200 and "/sign/" in links_page.get_data(as_text=True)
    shown = visible_text(anna.get(page))
    assert "Länken skickades av bertil@example.se" in shown
    assert "Handläggare anna@example.se, bertil@example.se" in shown
    assert post_on_page(admin, page, reissue).status_code == 200
    assert count(app, SigningLink) == links_before + 2


def preview_key(browser, agreement_id) -> str:
    page = browser.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.search(r"/forhandsgranska/([0-9a-f]{64})/1\.png", page.get_data(as_text=True)).group(1)


@pytest.mark.slow
def test_previews_are_cached_not_stored(app, office, make_user, iop_data):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    files_before, conversions = stored_files(app), office.processes()[0].conversions
    first = preview_key(anna, agreement_id)
    assert preview_key(anna, agreement_id) == first  # unchanged draft: the same preview, not converted again
    assert office.processes()[0].conversions == conversions + 1
    assert stored_files(app) == files_before  # nothing in the permanent store

    app.extensions["previews"].max_files = 2
    for number in range(3):
        other = anna.post("/api/agreements", json=dict(iop_data, title=f"Avtal {number}"), headers=bearer(token))
        preview_key(anna, other.json["id"])
    assert len(list(Path(app.config["PREVIEW_DIR"]).glob("*.pdf"))) == 2


@pytest.mark.slow
def test_the_preview_route_serves_only_the_agreements_own_preview(app, make_user, iop_data, run_jobs):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    mine = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    key = preview_key(anna, mine)
    assert anna.get(f"/avtal/{mine}/forhandsgranska/{key}.pdf").status_code == 200
    other, links = create_and_send(anna, token, iop_data)
    for link in links:
        confirm(anna, link["url"], "Malmö")
    final_pdf(app, anna, token, other)
    with app.extensions["db"].session() as session:
        stored = [session.get(Agreement, other).final_documents[0].sha256, session.get(Agreement, other).data_sha256]
    for sha in [*stored, key]:
        assert anna.get(f"/avtal/99999/forhandsgranska/{sha}.pdf").status_code == 404
        assert anna.get(f"/avtal/{other}/forhandsgranska/{sha}.pdf").status_code == 404
        assert anna.get(f"/avtal/{other}/forhandsgranska/{sha}/1.png").status_code == 404
