"""The notices a public service owes: how personal data is handled (GDPR art. 13) and the
accessibility statement (DOS-lagen), linked from every page's footer, the party's page next to
the confirmation, and every email."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from service import mail
from service.audit import Actor
from service.models import SigningLink, utcnow

from .helpers import axe_check, bearer, csrf_token, decline, path_of, send_for_signature, visible_text

PRIVACY, ACCESSIBILITY = "/personuppgifter", "/tillganglighet"


def test_the_privacy_notice_names_the_controller_its_dpo_and_the_retention_from_settings(app, client):
    app.config.update(
        CONTROLLER="Region Skåne",
        CONTROLLER_CONTACT="registrator@skane.example.se",
        DPO_CONTACT="dataskyddsombud@skane.example.se",
        DRAFT_RETENTION_DAYS=365,
    )
    response = client.get(PRIVACY)  # no login
    assert response.status_code == 200
    text = visible_text(response)
    for expected in (
        "Region Skåne är personuppgiftsansvarig och nås på registrator@skane.example.se",
        "Dataskyddsombud: dataskyddsombud@skane.example.se",
        "IP-adress",
        "artikel 6.1 e",
        "arkivlagen (1990:782)",
        "Utkast som aldrig skickas gallras 365 dagar",
        "Integritetsskyddsmyndigheten",
        "en enda kaka, en sessionskaka",
    ):
        assert expected in text, expected


def test_the_accessibility_statement_says_how_far_it_conforms_and_how_to_report(app, client):
    app.config.update(CONTROLLER="Region Skåne", ACCESSIBILITY_CONTACT="tillganglighet@skane.example.se")
    text = visible_text(client.get(ACCESSIBILITY))
    assert "delvis förenlig med lagen om tillgänglighet till digital offentlig service" in text
    assert "kontakta tillganglighet@skane.example.se" in text and "Digg" in text


@pytest.mark.parametrize("path", ["/login", "/verifiera", PRIVACY, ACCESSIBILITY])
def test_every_page_footer_links_to_both(client, path):
    footer = client.get(path).get_data(as_text=True).split('<footer class="site-footer">')[1]
    assert f'href="{PRIVACY}"' in footer and f'href="{ACCESSIBILITY}"' in footer


@pytest.mark.slow
def test_the_partys_page_and_every_email_link_to_both(app, client, api_token, iop_data, smtp_server):
    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    agreement, issued = send_for_signature(app, created, Actor("user:api@example.se"))
    assert mail.send_link_emails(app, agreement, issued, "api@example.se") == []
    with app.extensions["db"].session() as session:  # the second party's link, sent long ago, runs out soon
        session.execute(
            update(SigningLink)
            .where(SigningLink.id == issued[1].link_id)
            .values(expires_at=utcnow() + timedelta(days=1), created_at=utcnow() - timedelta(days=20))
        )
    assert mail.send_reminders(app) == 1
    urls = [mail.sign_link(app, link.token) for link in issued]

    page = client.get(path_of(urls[0])).get_data(as_text=True)
    confirmation = page.split('aria-labelledby="bekrafta"')[1].split("</section>")[0]
    assert f'href="{PRIVACY}"' in confirmation and f'href="{ACCESSIBILITY}"' in confirmation
    form = {
        "csrf_token": csrf_token(page),
        "signer_name": "Anna Andersson",
        "place": "Kristianstad",
        "receipt_email": "kvitto@natverket.example.se",
        "accept": "ja",
    }
    assert client.post(path_of(urls[0]) + "/bekrafta", data=form).status_code == 200
    assert decline(client, urls[1], "Vi behöver mer tid.").status_code == 200
    mail.send_final_failed_notice(app, created)

    kinds = {m["Subject"].split(":")[0].split(" av ")[0] for m in smtp_server.messages}
    assert kinds == {"Avtal att bekräfta", "Påminnelse", "Kvitto", "Bekräftat", "Avböjt", "Slutlig PDF saknas"}, kinds
    public = app.config["PUBLIC_URL"].rstrip("/")
    for message in smtp_server.messages:
        body = (message.get_body(("plain",)) or message).get_content().replace("\r\n", "\n")
        footer = body.rsplit("\n-- \n", 1)[1]  # the signature separator, then the links
        assert f"Så behandlar vi personuppgifter: {public}{PRIVACY}" in footer, message["Subject"]
        assert f"Tillgänglighetsredogörelse: {public}{ACCESSIBILITY}" in footer, message["Subject"]


@pytest.mark.slow
@pytest.mark.parametrize("path", [PRIVACY, ACCESSIBILITY])
def test_both_notices_pass_axe(page, path):
    page.goto(path)
    axe_check(page)
