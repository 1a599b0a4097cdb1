"""The whole flow in a real browser: an official drafts and sends the Skåne IOP, each party
signs from the link in its email, and an archivist downloads the final PDF."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from service.formatting import short_date
from service.models import FinalDocument

from .helpers import (
    LINK_URL,
    axe_check,
    count,
    fill_party,
    flat,
    log_in,
    path_of,
    pdf_text,
    save_artifact,
    screenshot,
    swedish_today,
    wait_for,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


PHONE = {"width": 375, "height": 740}


def draft_and_send(page, make_user, data):
    """The official's part: the form, the preview, sending. Returns {party name: link shown}."""
    log_in(page, make_user)
    page.get_by_role("link", name="Nytt IOP-avtal").click()
    page.get_by_label("Titel", exact=True).fill(data["title"])
    page.get_by_label("Diarienummer").fill(data["registration_number"])
    for i, party in enumerate(data["parties"]):
        fill_party(page, i, party)
    page.locator("#parties-0-resources-amount_kr").fill("1750000")
    page.get_by_label("Startdatum").fill("2021-01-01")
    page.get_by_label("Slutdatum").fill("2024-12-31")
    page.get_by_label("Uppsägningstid (månader)").fill("9")
    page.get_by_role("button", name="Spara utkast").last.click()
    expect(page.get_by_role("status")).to_have_text("Utkastet är sparat.")

    page.get_by_role("link", name="Förhandsgranska").click()
    thumbnails = page.get_by_role("img", name=re.compile(r"Sida \d+ av \d+"))
    expect(thumbnails.first).to_be_visible()
    assert thumbnails.count() >= 2

    page.get_by_role("link", name="Tillbaka till avtalet").click()
    page.get_by_role("button", name="Skicka för signering").click()
    expect(page.get_by_role("heading", name="Avtalet är skickat för signering")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)  # no "E-post kunde inte skickas"
    return {p["name"]: page.get_by_label(f"Länk till {p['name']}").input_value() for p in data["parties"]}


def emailed_links(inbox, data, shown):
    """One email per party, to its contact address, carrying the link the official saw."""
    assert len(inbox.messages) == len(data["parties"])
    by_address = {m["To"]: m for m in inbox.messages}
    links = {}
    for party in data["parties"]:
        message = by_address[party["contact_email"]]
        assert message["Subject"].startswith("Avtal att bekräfta") and data["title"] in message["Subject"]
        url = LINK_URL.search(message.get_content()).group()
        assert path_of(url) == path_of(shown[party["name"]])
        links[party["name"]] = path_of(url)
    return links


def open_link(context, path, party, viewport=None):
    """A party opens its link: its name, the agreement as text, and on request as page pictures."""
    page = context.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_contain_text(party["name"])
    expect(page.locator(".doc").get_by_text(party["name"]).first).to_be_visible()
    page.get_by_text("Visa som sidor").click()
    images = page.get_by_role("img", name=re.compile(r"Avtalet, sida \d+ av \d+")).all()
    assert len(images) >= 2
    for image in images:  # they load lazily, as they scroll into view, at the width that fits
        image.scroll_into_view_if_needed()
        wait_for(lambda image=image: image.evaluate("img => img.complete && img.naturalWidth > 0"), seconds=10)
    return page


def confirm(page, party, place):
    expect(page.get_by_label("Ditt namn")).to_have_value("")  # not the representative: whoever confirms types it
    page.get_by_label("Ditt namn").fill(party["representative"]["name"])
    page.get_by_label("Ort").fill(place)
    page.get_by_label(re.compile("Jag har läst avtalet och bekräftar det")).check()
    page.get_by_role("button", name="Bekräfta avtalet").click()
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    expect(page.get_by_text(f"{party['name']} har bekräftat avtalet.")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(place)


def test_draft_sign_by_email_and_archive_in_a_browser(
    app, browser, live_server, page, make_user, iop_data, smtp_server, run_jobs
):
    shown = draft_and_send(page, make_user, iop_data)
    links = emailed_links(smtp_server, iop_data, shown)

    skane, natverket = iop_data["parties"]
    first = browser.new_context(locale="sv-SE", base_url=live_server)
    party_page = open_link(first, links[skane["name"]], skane)
    axe_check(party_page)
    screenshot(party_page, "sign-page")
    confirm(party_page, skane, "Kristianstad")
    expect(party_page.get_by_text("Alla parter har nu bekräftat.")).to_have_count(0)  # one still to go
    axe_check(party_page)
    screenshot(party_page, "sign-done")

    second = browser.new_context(locale="sv-SE", base_url=live_server)
    phone = open_link(second, links[natverket["name"]], natverket, viewport=PHONE)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sticks out
    axe_check(phone)
    screenshot(phone, "sign-page-phone")
    phone.get_by_role("button", name="Bekräfta avtalet").click()  # no place, box not ticked
    expect(phone.get_by_label("Ditt namn")).to_be_focused()
    expect(phone.get_by_text("Kryssa i att du har läst avtalet och har rätt att bekräfta det")).to_be_visible()
    axe_check(phone)
    screenshot(phone, "sign-page-errors-phone")
    confirm(phone, natverket, "Malmö")
    expect(phone.get_by_text("Alla parter har nu bekräftat.")).to_be_visible()
    screenshot(phone, "sign-done-phone")
    second.close()

    party_page.goto(links[skane["name"]])
    expect(party_page.get_by_role("heading", name="Avtalet är redan besvarat")).to_be_visible()
    expect(party_page.get_by_text(f"{skane['representative']['name']} bekräftade")).to_be_visible()
    expect(party_page.get_by_role("link", name="Visa kvittot")).to_be_visible()
    axe_check(party_page)
    screenshot(party_page, "sign-used")
    first.close()

    wait_for(lambda: count(app, FinalDocument) == 1, seconds=45)

    archive = browser.new_context(locale="sv-SE", base_url=live_server).new_page()
    log_in(archive, make_user, "archivist", "arkivarie@example.se")
    expect(archive).to_have_url(re.compile(r"/arkiv$"))
    archive.get_by_label("Diarienummer").fill(iop_data["registration_number"])
    archive.get_by_role("button", name="Sök").click()
    expect(archive.get_by_role("heading", name="1 avtal hittades")).to_be_visible()
    archive.get_by_role("link", name=iop_data["title"]).click()
    expect(archive.get_by_role("heading", level=1)).to_have_text(iop_data["title"])
    axe_check(archive)
    screenshot(archive, "archive-final")
    with archive.expect_download() as download_info:
        archive.get_by_role("link", name="Ladda ner version 1 (PDF)").click()
    data = Path(download_info.value.path()).read_bytes()
    archive.context.close()

    save_artifact("final-browser-flow.pdf", data)
    text = flat(pdf_text(data))
    today = short_date(swedish_today())
    assert f"Kristianstad den {today}" in text
    assert f"Malmö den {today}" in text
    assert "1 750 000 kr" in text
