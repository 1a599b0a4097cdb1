import re

import pytest
from playwright.sync_api import expect

from .helpers import axe_check, log_in, screenshot

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def test_official_logs_in_and_out(page, make_user):
    make_user("official", "handlaggare@example.se")
    _, password = make_user("official", "anna.andersson@region.example.se")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    axe_check(page)
    screenshot(page, "login")

    page.get_by_label("E-postadress").fill("anna.andersson@region.example.se")
    page.get_by_label("Lösenord").fill("fel-lösenord")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_have_text("Fel e-postadress eller lösenord.")
    axe_check(page)
    screenshot(page, "login-failed")

    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    header = page.get_by_role("banner")
    expect(header).to_contain_text("anna.andersson@region.example.se")
    expect(header).to_contain_text("handläggare")
    expect(page.get_by_role("heading", name="Avtal", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Avtal")).to_be_visible()
    axe_check(page)
    screenshot(page, "start-official")

    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("status")).to_have_text("Du är utloggad.")
    expect(page.get_by_role("banner")).not_to_contain_text("anna.andersson@region.example.se")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_empty_login_marks_the_fields(page):
    page.goto("/login")
    page.get_by_role("button", name="Logga in").click()
    email = page.get_by_label("E-postadress")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    expect(page.locator("#email-error")).to_have_text("Fel: Ange din e-postadress.")
    axe_check(page)
    screenshot(page, "login-empty")


def test_archivist_sees_the_archive_section(page, make_user):
    log_in(page, make_user, "archivist", "arkivarie@example.se")
    expect(page.get_by_role("banner")).to_contain_text("arkivarie")
    expect(page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Arkiv")).to_be_visible()
    page.goto("/finns-inte")
    expect(page.get_by_role("heading", name="Sidan finns inte")).to_be_visible()
    axe_check(page)
    screenshot(page, "404")


def test_login_page_on_a_phone(browser, live_server):
    context = browser.new_context(locale="sv-SE", base_url=live_server, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/login")
    axe_check(page)
    screenshot(page, "login-phone")
    context.close()
