import re

import pytest
from playwright.sync_api import expect

from service import webhooks

from .helpers import axe_check, log_in, screenshot

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def test_admin_creates_a_user_and_a_token_and_registers_a_webhook_in_the_browser(make_user, page):
    log_in(page, make_user, "admin", "admin@example.se")
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Användare och API-nycklar")
    axe_check(page)

    page.get_by_label("E-postadress").fill("handlaggare@region.se")
    page.get_by_label("Roll").select_option(label="handläggare")
    page.get_by_role("button", name="Skapa användare").click()
    expect(page.get_by_label("Lösenord för handlaggare@region.se (handläggare)")).to_have_value(re.compile(r"\S{12,}"))
    axe_check(page)
    page.get_by_role("link", name="Tillbaka").click()

    row = page.get_by_role("row", name=re.compile("handlaggare@region.se"))
    row.get_by_label("Ny nyckel, namn").fill("Ärendesystemet")
    row.get_by_role("button", name="Skapa API-nyckel").click()
    expect(page.get_by_label("API-nyckel för handlaggare@region.se (Ärendesystemet)")).to_have_value(
        re.compile(r"\S{40,}")
    )
    page.get_by_role("link", name="Tillbaka").click()
    expect(page.get_by_role("row", name=re.compile("handlaggare@region.se"))).to_contain_text("aldrig använd")
    screenshot(page, "admin-users")

    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Mottagarens adress").fill("https://crm.region.se/avtal")
    page.get_by_label(re.compile("party.declined")).uncheck()
    page.get_by_role("button", name="Registrera").click()
    expect(page.get_by_label("Hemlighet för https://crm.region.se/avtal")).to_have_value(re.compile(r"^whsec_"))
    page.get_by_role("link", name="Tillbaka").click()
    expect(page.get_by_text("Inga leveranser ännu.")).to_be_visible()
    subscribed = sorted(name for name in webhooks.TYPE_LABELS if name != "party.declined")
    expect(page.get_by_text(", ".join(subscribed))).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Webhooks").click()
    axe_check(page)
    screenshot(page, "admin-webhooks")
