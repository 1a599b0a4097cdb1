"""The party's pages in a real browser: axe-core on a phone and a desktop, confirming with the
keyboard only, and reading the agreement with its pictures hidden."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from service import agreements, signing
from service.audit import Actor
from service.models import SigningLink, utcnow

from .helpers import at, confirm, create_and_send, every_size, handler_of, path_of

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


@pytest.fixture
def links(app, client, api_token, iop_data):
    """The Skåne IOP sent: (agreement id, [path of each party's link])."""
    agreement_id, sent = create_and_send(client, api_token, iop_data)
    return agreement_id, [path_of(link["url"]) for link in sent]


def test_sign_page_and_receipt_pass_axe(app, browser, live_server, links, iop_data, smtp_server):
    _, (first, _) = links
    page = at(browser, live_server, "phone")
    page.goto(first)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Region Skåne")
    page.get_by_text("Visa som sidor").click()
    page.get_by_text("Tekniska uppgifter").click()
    every_size(page, "sign-page")

    page.get_by_role("button", name="Bekräfta avtalet").click()  # nothing filled in
    expect(page.get_by_label("Ditt namn")).to_be_focused()
    every_size(page)

    page.get_by_label("Ditt namn").fill("Carl Johan Sonesson")
    page.get_by_label("Ort").fill("Kristianstad")
    page.get_by_label(re.compile("Jag har läst avtalet")).check()
    page.get_by_role("button", name="Bekräfta avtalet").click()
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    every_size(page, "sign-receipt")
    page.context.close()


def expire_links(app):
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).values(expires_at=utcnow() - timedelta(minutes=1)))


def make_outdated(app, agreement_id, data):
    with app.extensions["db"].session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        changed = dict(data, title=data["title"] + " (ändrad)")
        official = handler_of(session, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, changed, official, Actor("user:t@example.se")
        )


def test_every_error_page_passes_axe_and_says_what_to_do(app, browser, live_server, client, api_token, links, iop_data):
    agreement_id, (first, second) = links
    page = at(browser, live_server, "phone")

    page.goto("/sign/inte-en-riktig-lank")
    expect(page.get_by_role("heading", name="Ogiltig länk")).to_be_visible()
    expect(page.get_by_text("Svara på e-postmeddelandet")).to_be_visible()  # whom to contact
    every_size(page)

    page.goto("/sign/slutligt/inte-en-riktig-lank")
    expect(page.get_by_role("heading", name="Det slutliga avtalet kan inte hämtas")).to_be_visible()
    every_size(page)

    page.goto(first + "/sida/99/" + "0" * 64 + ".png")
    expect(page.get_by_role("heading", name="Sidan finns inte")).to_be_visible()
    every_size(page)

    assert confirm(client, "http://x" + first, "Kristianstad").status_code == 200
    page.goto(first)
    expect(page.get_by_role("heading", name="Avtalet är redan besvarat")).to_be_visible()
    expect(page.get_by_text(iop_data["title"])).to_be_visible()  # names the agreement
    every_size(page)
    page.get_by_role("link", name="Visa kvittot").click()
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()

    expire_links(app)
    page.goto(second)
    expect(page.get_by_role("heading", name="Länken har gått ut")).to_be_visible()
    every_size(page)

    make_outdated(app, agreement_id, iop_data)
    page.goto(second)
    expect(page.get_by_role("heading", name="Avtalet har ändrats")).to_be_visible()
    every_size(page)

    official = {"Authorization": f"Bearer {api_token}"}
    resent = client.post(f"/api/agreements/{agreement_id}/send", headers=official)
    new = path_of(resent.json["links"][1]["url"])
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with app.extensions["db"].session() as session:  # the official sends the party a new link
        link = session.get(SigningLink, signing.read_token(serializer, new.rsplit("/", 1)[1])[0])
        official = handler_of(session, agreement_id)
        signing.reissue_link(session, serializer, link.party, 30, official, Actor("user:test@example.se"))
    page.goto(new)  # the new link revoked the party's open one
    expect(page.get_by_role("heading", name="Länken har återkallats")).to_be_visible()
    every_size(page)
    page.context.close()


def test_confirming_with_the_keyboard_only(browser, live_server, links, smtp_server):
    """With email set up, as a region runs it: the form has its receipt field too."""
    _, (first, _) = links
    page = at(browser, live_server, "desktop")
    page.goto(first)

    def tab_to(element_id, limit=80):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("signer_name")
    page.keyboard.type("Carl Johan Sonesson")
    page.keyboard.press("Tab")
    page.keyboard.type("Regionstyrelsens ordförande")
    page.keyboard.press("Tab")
    page.keyboard.type("Kristianstad")
    page.keyboard.press("Tab")  # the receipt address, left empty
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "accept"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Bekräfta avtalet"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Carl Johan Sonesson, Regionstyrelsens ordförande")
    page.context.close()


def test_the_agreement_reads_as_text_with_pictures_hidden(browser, live_server, links, iop_data):
    _, (first, _) = links
    page = at(browser, live_server, "phone")
    page.route(re.compile(r".*\.png$"), lambda route: route.abort())  # no pictures at all
    page.goto(first)
    text = page.locator(".doc")
    expect(text.get_by_role("heading", name="1. Inledning")).to_be_visible()
    expect(text.get_by_role("heading", name="Region Skåne")).to_be_visible()
    expect(text.get_by_role("listitem").first).to_be_visible()
    for paragraph in (iop_data["introduction"].split("\n\n")[0], iop_data["follow_up"].split("\n\n")[0]):
        expect(text).to_contain_text(" ".join(paragraph.split())[:120])
    assert all(not img.is_visible() for img in page.get_by_role("img").all())  # behind "Visa som sidor"
    page.context.close()
