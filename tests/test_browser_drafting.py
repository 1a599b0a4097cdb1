"""An official drafts, previews and sends the Skåne IOP in a real browser."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from service import agreements, users
from service.audit import Actor
from service.models import Agreement

from .helpers import axe_check, confirm_each, fill_party, log_in, screenshot, send_for_signature, wait_for

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def test_official_drafts_previews_and_sends_the_skane_iop(app, page, make_user, iop_data):
    skane, natverket = iop_data["parties"]
    log_in(page, make_user)
    expect(page.get_by_role("heading", name="Avtal", exact=True)).to_be_visible()
    expect(page.get_by_text("Det finns inga avtal ännu.")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Nytt IOP-avtal").click()
    expect(page.get_by_role("heading", name="Nytt IOP-avtal")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if a list button reloads the page
    page.get_by_label("Titel", exact=True).fill(iop_data["title"])
    page.get_by_label("Diarienummer").fill(iop_data["registration_number"])

    page.get_by_role("button", name="Ta bort part 2").click()
    expect(page.locator("#parties-1-name")).to_have_count(0)
    page.get_by_role("button", name="Lägg till part").click()
    expect(page.locator("#parties-1-name")).to_be_focused()
    expect(page.get_by_role("group", name="Part 2")).to_be_visible()
    fill_party(page, 0, skane)
    fill_party(page, 1, dict(natverket, org_number="802916-1464"))  # a typo in the check digit
    page.locator("#parties-0-resources-amount_kr").fill("1750000")

    page.get_by_label("Startdatum").fill("2021-01-01")
    page.get_by_label("Slutdatum").fill("2024-12-31")
    page.get_by_label("Möjlig förlängning (år)").fill("2")
    for i, activity in enumerate(iop_data["activities"][:2]):
        page.get_by_role("button", name="Lägg till insats").click()
        page.locator(f"#activities-{i}").fill(activity)
    for i, goal in enumerate(iop_data["goals"][:2]):
        page.get_by_role("button", name="Lägg till mål").click()
        page.locator(f"#goals-{i}-heading").fill(goal["heading"])
        page.locator(f"#goals-{i}-text").fill(goal["text"])
    page.get_by_label("Uppsägningstid (månader)").fill("9")
    assert page.evaluate("window.sameDocument") is True
    axe_check(page)
    screenshot(page, "drafting-form")

    page.get_by_role("button", name="Spara utkast").last.click()
    summary = page.locator(".drafting-errors")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Part 2: Organisationsnummer har fel kontrollsiffra")
    expect(page.locator("#activities-1")).to_have_value(iop_data["activities"][1])
    axe_check(page)
    screenshot(page, "drafting-form-errors")
    summary.get_by_role("link").first.click()
    expect(page.locator("#parties-1-org_number")).to_be_focused()
    page.locator("#parties-1-org_number").fill(natverket["org_number"])
    page.get_by_role("button", name="Spara utkast").last.click()

    expect(page.get_by_role("status")).to_have_text("Utkastet är sparat.")
    expect(page.get_by_role("heading", name=iop_data["title"])).to_be_visible()
    axe_check(page)
    with app.extensions["db"].session() as session:
        data = session.scalars(select(Agreement)).one().data
    assert [p["name"] for p in data["parties"]] == [skane["name"], natverket["name"]]
    assert data["parties"][0]["resources"]["amount_kr"] == 1750000 and data["notice_months"] == 9
    assert data["activities"] == iop_data["activities"][:2] and data["goals"] == iop_data["goals"][:2]
    assert data["period"] == iop_data["period"] and data["principles"] == iop_data["principles"]

    page.get_by_role("link", name="Förhandsgranska").click()
    first_page = page.get_by_role("img", name=re.compile(r"Sida 1 av \d+"))
    expect(first_page).to_be_visible()
    thumbnails = page.get_by_role("img", name=re.compile(r"Sida \d+ av \d+")).all()
    assert len(thumbnails) >= 2
    for image in thumbnails:
        wait_for(lambda image=image: image.evaluate("img => img.complete && img.naturalWidth === 300"), seconds=10)
    axe_check(page)
    screenshot(page, "drafting-preview")

    page.get_by_role("link", name="Tillbaka till avtalet").click()
    screenshot(page, "drafting-overview-draft")
    page.get_by_role("button", name="Skicka för signering").click()
    expect(page.get_by_role("heading", name="Avtalet är låst för signering: ge parterna länkarna")).to_be_visible()
    for party in (skane, natverket):
        expect(page.get_by_label(f"Länk till {party['name']}")).to_have_value(re.compile(r"^http://.+/sign/"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name=f"Kopiera länken till {skane['name']}").click()
    expect(page.get_by_role("status")).to_have_text(f"Kopierade länken till {skane['name']}.")
    assert (
        page.evaluate("navigator.clipboard.readText()") == page.get_by_label(f"Länk till {skane['name']}").input_value()
    )
    axe_check(page)
    screenshot(page, "drafting-links")

    page.get_by_role("link", name="Till avtalet").click()
    expect(page.get_by_text("Skickat – 0 av 2 har bekräftat")).to_be_visible()
    axe_check(page)
    screenshot(page, "drafting-overview-sent")

    page.get_by_role("link", name="Logg över händelser").click()
    expect(page.get_by_role("cell", name="Version låst för signering")).to_be_visible()
    axe_check(page)
    screenshot(page, "drafting-log")

    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Avtal").click()
    expect(page.get_by_role("row").filter(has_text="RS 2020/2741")).to_contain_text("Skickat – 0 av 2 har bekräftat")
    axe_check(page)
    screenshot(page, "drafting-list")


def test_overenskommelse_rows_renumber_and_a_party_joins(app, page, make_user, halland_data):
    log_in(page, make_user)
    page.goto("/avtal/ny?typ=overenskommelse")
    page.get_by_role("button", name="Lägg till avsnitt").click()
    page.locator("#sections-1-heading").fill("Andra avsnittet")
    page.get_by_role("button", name="Ta bort avsnitt 1").click()
    expect(page.locator("#sections-0-heading")).to_have_value("Andra avsnittet")
    expect(page.get_by_role("group", name="Avsnitt 1", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Ta bort avsnitt 1")).to_have_attribute("value", "remove:sections:0")
    expect(page.get_by_role("button", name="Lägg till avsnitt")).to_be_focused()
    axe_check(page)
    screenshot(page, "drafting-form-overenskommelse")

    actor = Actor("user:anna.andersson@region.example.se")
    with app.extensions["db"].session() as session:
        anna = users.user_by_email(session, "anna.andersson@region.example.se")  # its handläggare
        agreement_id = agreements.create_draft(session, app.extensions["files"], halland_data, anna, actor).id
    _, issued = send_for_signature(app, agreement_id, actor)
    page.goto(f"/avtal/{agreement_id}")
    expect(page.get_by_role("region", name="Anslut ny part")).to_have_count(0)  # only once it is complete
    confirm_each(app, issued)
    page.goto(f"/avtal/{agreement_id}")
    joining = page.get_by_role("region", name="Anslut ny part")
    joining.locator("#parties-12-name").fill("Nya Föreningen i Varberg")
    joining.locator("#parties-12-org_number").fill("8024794560")
    joining.locator("#parties-12-representative-name").fill("Eva Ek")
    joining.get_by_role("button", name="Anslut parten").click()
    expect(page.locator("#parties-12-org_number-error")).to_contain_text("fel kontrollsiffra")
    expect(page.locator("#parties-12-name")).to_have_value("Nya Föreningen i Varberg")
    axe_check(page)
    screenshot(page, "drafting-overview-accession")
    page.locator("#parties-12-org_number").fill("802479-4565")
    page.get_by_role("button", name="Anslut parten").click()
    expect(page.get_by_role("heading", name="Nya Föreningen i Varberg är ansluten")).to_be_visible()
    expect(page.get_by_label("Länk till Nya Föreningen i Varberg")).to_have_value(re.compile(r"/sign/"))
    page.goto(f"/avtal/{agreement_id}")
    joined = page.get_by_role("region", name="Anslutna organisationer")
    expect(joined.get_by_role("row", name=re.compile("Nya Föreningen i Varberg"))).to_contain_text("Väntar")
    axe_check(page)
