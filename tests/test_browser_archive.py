import hashlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import axe_check, complete_iop, log_in, screenshot

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def test_archivist_finds_an_agreement_and_downloads_the_final_pdf(
    app, client, api_token, iop_data, run_jobs, make_user, page
):

    agreement_id = complete_iop(app, client, api_token, iop_data)
    log_in(page, make_user, "archivist", "arkivarie@example.se")
    expect(page).to_have_url(re.compile(r"/arkiv$"))

    page.get_by_label("Fritext").fill("ideburen sektor")
    page.get_by_label("Organisationsnummer").fill("802916-1463")
    page.get_by_label("Gäller från").fill("2022-01-01")
    page.get_by_role("button", name="Sök").click()
    expect(page.get_by_role("heading", name="1 avtal hittades")).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("completed")
    axe_check(page)
    screenshot(page, "archive-search")

    page.get_by_role("link", name=iop_data["title"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(iop_data["title"])
    expect(page.get_by_text("Granskningsloggen är hel")).to_be_visible()
    parties = page.get_by_role("region", name="Parter och bekräftelser")
    expect(parties.get_by_role("row", name=re.compile("NÄTVERKET"))).to_contain_text("Malmö")
    axe_check(page)
    screenshot(page, "archive-agreement")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Ladda ner version 1 (PDF)").click()
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert download.suggested_filename == f"avtal-{agreement_id}-RS-2020-2741-slutlig-1.pdf"  # with the diarienummer
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() in page.content()


def test_search_with_an_invalid_date(page, make_user):
    log_in(page, make_user, "archivist", "arkivarie@example.se")
    page.goto("/arkiv?from=2021-13-01&to=2020-01-01")
    expect(page.locator("#from-error")).to_have_text("Fel: Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2021-01-01.")
    expect(page.get_by_label("Gäller från")).to_be_focused()
    axe_check(page)
    screenshot(page, "archive-search-error")
