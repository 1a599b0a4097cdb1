"""What a party keeps: the receipt page and email, and its own link to the final PDF."""

import hashlib
import re
import time

import pytest
from sqlalchemy import select

from service.models import AuditEvent, Confirmation, FinalDocument

from .helpers import create_and_send, csrf_token, flat, path_of, wait_for

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


FINAL_URL = re.compile(r"https?://\S+/sign/slutligt/\S+")


def answer(client, path, place="Varberg", email="", name="Anna Andersson"):
    page = client.get(path)
    form = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "signer_name": name,
        "signer_title": "Ordförande",
        "place": place,
        "receipt_email": email,
        "accept": "ja",
    }
    return client.post(path + "/bekrafta", data=form)


def test_the_page_does_not_fill_in_the_representative_and_names_the_mandate(client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    html = client.get(path_of(links[0]["url"])).get_data(as_text=True)
    assert iop_data["parties"][0]["representative"]["name"] not in re.findall(r'value="([^"]*)"', html)
    assert re.search(r'id="signer_name" name="signer_name" type="text" value=""', html)
    assert "firmatecknare eller med fullmakt" in html
    technical = html[html.index("Tekniska uppgifter") :]
    assert "Avtalstextens SHA-256" in technical and html.index("Tekniska uppgifter") > html.index("Avtalstexten")


def test_receipt_page_and_email_carry_exactly_the_confirmed_pdf(app, client, api_token, halland_data, smtp_server):
    halland_data["parties"][1]["name"] = "Brukarföreningen Tillsammans i Varberg"
    _, links = create_and_send(client, api_token, halland_data)
    smtp_server.messages.clear()
    path = path_of(links[1]["url"])
    done = answer(client, path, place="Varberg", email="kansliet@tillsammans.example.se")
    html = flat(done.get_data(as_text=True))
    assert done.status_code == 200
    assert "i Varberg i Varberg" not in html
    with app.extensions["db"].session() as session:
        confirmation = session.scalars(select(Confirmation)).one()
        sha = confirmation.version.pdf_sha256
        assert confirmation.receipt_email == "kansliet@tillsammans.example.se"
    for expected in ("Brukarföreningen Tillsammans i Varberg", "Anna Andersson, Ordförande", "Varberg", sha):
        assert expected in html
    pdf = client.get(path + "/kvitto/avtal.pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == sha

    later = client.get(path + "/kvitto")  # the receipt stays at its address
    assert later.status_code == 200 and sha in later.get_data(as_text=True)
    used = flat(client.get(path).get_data(as_text=True))  # "already used" names the agreement, offers the receipt
    assert halland_data["title"] in used and "Visa kvittot" in used

    (mail,) = [m for m in smtp_server.messages if m["To"] == "kansliet@tillsammans.example.se"]
    assert mail["Subject"].startswith("Kvitto:")
    body = mail.get_body(("plain",)).get_content()
    assert sha in body and "Bekräftat av: Anna Andersson, Ordförande" in body and "Ort: Varberg" in body
    (attached,) = list(mail.iter_attachments())
    assert hashlib.sha256(attached.get_content()).hexdigest() == sha


def test_receipt_needs_an_answered_link_and_a_sane_address(client, api_token, iop_data, smtp_server):
    _, links = create_and_send(client, api_token, iop_data)
    path = path_of(links[0]["url"])
    assert client.get(path + "/kvitto").status_code == 404  # nothing answered yet
    assert client.get(path + "/kvitto/avtal.pdf").status_code == 404
    assert client.get("/sign/x/kvitto").status_code == 404
    bad = answer(client, path, email="inte en adress")
    assert bad.status_code == 400 and "Skriv en e-postadress" in bad.get_data(as_text=True)


def test_without_email_nothing_offers_or_promises_one(app, client, api_token, iop_data):
    """No SMTP server configured: no receipt field, and the receipt promises no email."""
    _, links = create_and_send(client, api_token, iop_data)
    path = path_of(links[0]["url"])
    assert 'name="receipt_email"' not in client.get(path).get_data(as_text=True)
    done = flat(answer(client, path, email="kansliet@tillsammans.example.se").get_data(as_text=True))
    assert "Tack, avtalet är bekräftat" in done
    assert "e-post" not in done.lower() and "kansliet@tillsammans.example.se" not in done
    with app.extensions["db"].session() as session:
        assert session.scalars(select(Confirmation)).one().receipt_email == ""


def test_every_confirmed_party_gets_its_own_final_pdf_link(app, client, api_token, iop_data, smtp_server, run_jobs):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert answer(client, path_of(links[0]["url"]), "Kristianstad", email="kvitto@skane.example.se").status_code == 200
    assert answer(client, path_of(links[1]["url"]), "Malmö").status_code == 200

    def final_mails():
        mails = [m for m in smtp_server.messages if m["Subject"].startswith("Avtalet är klart")]
        return mails if len(mails) == 2 else None

    mails = wait_for(final_mails, seconds=90)
    assert {m["To"] for m in mails} == {"kvitto@skane.example.se", iop_data["parties"][1]["contact_email"]}
    urls = [FINAL_URL.search(m.get_content()).group() for m in mails]
    assert len(set(urls)) == 2
    with app.extensions["db"].session() as session:
        document = session.scalars(select(FinalDocument)).one()
    response = client.get(path_of(urls[0]))
    assert response.status_code == 200 and hashlib.sha256(response.data).hexdigest() == document.sha256
    with app.extensions["db"].session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == "final_downloaded")).all()
        assert event.agreement_id == agreement_id and event.details["number"] == 1

    token = path_of(urls[0]).rsplit("/", 1)[1]
    signing_token = path_of(links[0]["url"]).rsplit("/", 1)[1]
    for bad in (token[:-2], signing_token, "x"):  # tampered, another purpose's token, garbage
        refused = client.get(f"/sign/slutligt/{bad}")
        assert refused.status_code == 404 and "Det slutliga avtalet kan inte hämtas" in refused.get_data(as_text=True)
    app.config["LINK_MAX_AGE_DAYS"] = 0
    time.sleep(1.1)
    assert client.get(path_of(urls[0])).status_code == 410
    with app.extensions["db"].session() as session:  # refusals are not downloads
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.event == "final_downloaded")).all()) == 1
