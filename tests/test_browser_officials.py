"""The official's day in a real browser (issue 21): declining with a second question, passing
a link on, and the agreement page's new parts, axe-checked on a phone and a desktop, with the
mail read from a real SMTP server on loopback."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from service import users
from service.models import AuditEvent, Confirmation, User

from .helpers import LINK_URL, at, axe_check, bearer, every_size, flat, log_in, path_of

pytestmark = pytest.mark.slow  # LibreOffice and a browser

OFFICIAL = "anna.andersson@region.example.se"  # log_in's user


def sent_by_official(app, browser, live_server, make_user, iop_data, order=None, **terms):
    """Log in, create the Skåne IOP through the API and send it from its page (with the terms
    typed and the signing order chosen, if given): (official's page, agreement id)."""
    page = at(browser, live_server, "phone")
    log_in(page, make_user)
    with app.extensions["db"].session() as session:
        user = session.scalar(select(User).where(User.email == OFFICIAL))
        token = users.issue_api_token(session, user)
    agreement_id = app.test_client().post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    page.goto(f"/avtal/{agreement_id}")
    for label, value in terms.items():
        page.get_by_label(label).fill(value)
    if order:
        expect(page.get_by_label("Alla samtidigt")).to_be_checked()
        page.get_by_label(order).check()
        every_size(page, "sending-form")
    page.get_by_role("button", name="Skicka för signering").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("skickat för signering")
    return page, agreement_id


def emailed_link(inbox, address) -> str:
    [message] = [m for m in inbox.messages if m["To"] == address and "bekräfta" in m["Subject"]]
    return path_of(LINK_URL.search(message.get_content()).group())


def test_declining_asks_once_more_and_shows_a_receipt(app, browser, live_server, make_user, iop_data, smtp_server):
    official, agreement_id = sent_by_official(app, browser, live_server, make_user, iop_data)
    official.context.close()
    party = iop_data["parties"][1]
    page = at(browser, live_server, "phone")
    page.goto(emailed_link(smtp_server, party["contact_email"]))
    page.get_by_role("button", name="Avböj avtalet …").click()  # nothing filled in
    expect(page.get_by_label("Namn på den som avböjer")).to_be_focused()
    axe_check(page)
    page.get_by_label("Namn på den som avböjer").fill("Birthe Wallin")
    page.get_by_label("Titel på den som avböjer").fill("Ordförande")
    page.get_by_label("Varför avböjer ni? (frivilligt)").fill("Styrelsen vill ändra uppföljningen.")
    page.get_by_label("E-post för kopia (frivilligt)").fill("styrelsen@natverket.example.se")
    page.get_by_role("button", name="Avböj avtalet …").click()

    expect(page.get_by_role("heading", name="Är du säker?")).to_be_visible()
    every_size(page, "decline-sure")
    with app.extensions["db"].session() as session:
        assert session.scalars(select(Confirmation)).all() == []  # nothing is stored yet
    page.get_by_role("button", name="Ja, avböj avtalet").click()

    expect(page.get_by_role("heading", name="Ert svar är registrerat")).to_be_visible()
    receipt = flat(page.locator("main").inner_text())
    assert "Birthe Wallin, Ordförande" in receipt and "Styrelsen vill ändra uppföljningen." in receipt
    every_size(page, "decline-receipt")
    page.context.close()

    by_address = {m["To"]: m for m in smtp_server.messages if "bekräfta" not in m["Subject"]}
    assert by_address["styrelsen@natverket.example.se"]["Subject"] == f"Kopia av ert svar: {iop_data['title']}"
    told = by_address[OFFICIAL]
    assert told["Subject"] == f"Avböjt av {party['name']}: {iop_data['title']}"
    assert (
        f"/avtal/{agreement_id}" in told.get_content() and "Avböjt av: Birthe Wallin, Ordförande" in told.get_content()
    )
    with app.extensions["db"].session() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.event == "declined")).all()
        assert (event.details["name"], event.details["title"]) == ("Birthe Wallin", "Ordförande")


def test_a_party_passes_its_link_on_and_the_new_person_confirms(
    app, browser, live_server, make_user, iop_data, smtp_server
):
    official, agreement_id = sent_by_official(
        app,
        browser,
        live_server,
        make_user,
        iop_data,
        **{"Meddelande till parterna (frivilligt)": "Svara gärna före den 20:e.", "Påminn var … dag (frivilligt)": "7"},
    )
    party = iop_data["parties"][1]
    page = at(browser, live_server, "phone")
    page.goto(emailed_link(smtp_server, party["contact_email"]))
    assert "Svara gärna före den 20:e." in page.locator("main").inner_text()
    page.get_by_label("Personens e-postadress").fill(party["contact_email"])
    page.get_by_label("Namn på den som får skriva under").fill("Birthe Wallin")
    page.get_by_role("button", name="Skicka vidare").click()
    expect(page.get_by_text("Länken har redan skickats till den adressen")).to_be_visible()
    axe_check(page)
    page.get_by_label("Personens e-postadress").fill("birthe@natverket.example.se")
    page.get_by_role("button", name="Skicka vidare").click()
    expect(page.get_by_role("heading", name="Avtalet är skickat vidare")).to_be_visible()
    every_size(page, "forwarded")

    page.goto(emailed_link(smtp_server, "birthe@natverket.example.se"))
    page.get_by_label("Ditt namn").fill("Kim Kansli")
    page.get_by_label("Ort").fill("Malmö")
    page.get_by_label(re.compile("Jag har läst avtalet")).check()
    page.get_by_role("button", name="Bekräfta avtalet").click()
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    page.context.close()

    official.goto(f"/avtal/{agreement_id}")
    expect(official.get_by_text("Obs! Bekräftat av Kim Kansli; angiven företrädare Birthe Wallin")).to_be_visible()
    expect(official.get_by_role("button", name=re.compile("^Påminn"))).to_have_count(1)  # Region Skåne waits
    every_size(official, "agreement-officials-day")
    official.get_by_role("button", name=re.compile("^Påminn")).click()
    expect(official.get_by_text("En påminnelse är skickad till Region Skåne")).to_be_visible()
    official.get_by_label("En sammanfattning per dag").check()
    official.get_by_role("button", name="Spara valet").click()
    expect(official.get_by_text("Sparat. E-post om avtalet: en sammanfattning per dag.")).to_be_visible()
    official.context.close()

    subjects = {(m["To"], m["Subject"].split(":")[0]) for m in smtp_server.messages}
    assert (OFFICIAL, f"Skickat vidare av {party['name']}") in subjects
    assert (OFFICIAL, f"Bekräftat av {party['name']}") in subjects
    assert (iop_data["parties"][0]["contact_email"], "Påminnelse") in subjects


def test_the_official_sends_with_the_region_last_and_the_page_says_who_waits(
    app, browser, live_server, make_user, iop_data, smtp_server
):
    region, association = iop_data["parties"]
    official, agreement_id = sent_by_official(
        app, browser, live_server, make_user, iop_data, order="Regionen bekräftar sist"
    )
    expect(official.get_by_text("Ordning för länkarna: Regionen bekräftar sist.")).to_be_visible()
    every_size(official)
    assert [m["To"] for m in smtp_server.messages] == [association["contact_email"]]

    official.goto(f"/avtal/{agreement_id}")
    facts = flat(official.locator(".drafting-facts").inner_text())
    assert "Ordning för länkarna Regionen bekräftar sist" in facts
    row = official.get_by_role("row", name=re.compile(region["name"]))
    expect(row).to_contain_text(f"Väntar på tur Får länken när {association['name']} har bekräftat")
    expect(row.get_by_role("button")).to_have_count(0)  # no link to renew, revoke or remind of
    every_size(official, "agreement-signing-order")

    page = at(browser, live_server, "phone")
    page.goto(emailed_link(smtp_server, association["contact_email"]))
    page.get_by_label("Ditt namn").fill("Birthe Wallin")
    page.get_by_label("Ort").fill("Malmö")
    page.get_by_label(re.compile("Jag har läst avtalet")).check()
    page.get_by_role("button", name="Bekräfta avtalet").click()
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    page.context.close()

    region_link = emailed_link(smtp_server, region["contact_email"])  # mailed once the association confirmed
    official.reload()
    expect(row).to_contain_text("Länken skickades av Tjänsten")
    expect(row.get_by_role("button", name=re.compile("^Påminn"))).to_have_count(1)
    official.context.close()
    page = at(browser, live_server, "phone")
    page.goto(region_link)
    expect(page.get_by_role("button", name="Bekräfta avtalet")).to_be_visible()
    page.context.close()
