"""The region's own wording, in a real browser: download the built-in överenskommelse, edit it as
Word does, upload it as a version, preview, activate; a new agreement is frozen, read on the
party's page, confirmed and made final with the new text, the one made before keeps its own."""

import re

import pytest
from playwright.sync_api import expect

from service import signing

from .helpers import (
    NEW_HEADING,
    NEW_SENTENCE,
    axe_check,
    create_and_send,
    docx_with,
    edited_as_word_does,
    final_pdf,
    flat,
    log_in,
    many_parties,
    path_of,
    pdf_text,
    saved_by_libreoffice,
    screenshot,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def upload(page, data, name, note=""):
    page.goto("/avtal/mallar")
    page.get_by_label("Mallens namn").fill(name)
    page.get_by_label("Vad versionen ändrar").fill(note)
    page.get_by_label("Avtalstyp").select_option("overenskommelse")
    page.get_by_label("Word-fil (.docx)").set_input_files({"name": "mall.docx", "mimeType": DOCX, "buffer": data})
    page.get_by_role("button", name="Ladda upp och kontrollera").click()


def frozen_text(app, agreement_id) -> str:
    with app.extensions["db"].session() as session:
        version = signing.latest_version(session, agreement_id)
        return flat(pdf_text(app.extensions["files"].get(version.pdf_sha256)))


def test_a_region_edits_its_template_in_word_and_new_agreements_say_it(
    app, page, make_user, client, api_token, halland_data, run_jobs, tmp_path
):
    data = many_parties(halland_data, 2)
    before_id, _ = create_and_send(client, api_token, data)
    log_in(page, make_user)
    page.goto("/avtal/mallar")
    axe_check(page)
    with page.expect_download() as download:
        page.locator('a[href="/avtal/mallar/overenskommelse/inbyggd.docx"]').click()
    edited = saved_by_libreoffice(edited_as_word_does(download.value.path().read_bytes()), tmp_path)

    upload(page, docx_with("{{ title }}"), "Utan parter")  # refused: nothing stored, nothing active
    expect(page.get_by_role("alert")).to_contain_text("saknar slingan över parties")
    expect(page.get_by_role("alert")).to_contain_text("Inget har sparats eller gjorts aktivt")

    upload(page, edited, "Hallands lydelse", "Ny mening om uppföljning")
    expect(page.get_by_text("Hallands lydelse är sparad som en ny version")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Hallands lydelse"))
    expect(row).to_contain_text("Inte aktiv")
    preview = page.request.get(row.get_by_role("link", name="Förhandsgranska Hallands lydelse").get_attribute("href"))
    assert NEW_SENTENCE in flat(pdf_text(preview.body()))
    row.get_by_role("link", name="Jämför Hallands lydelse med den inbyggda").click()
    expect(page.locator("ins").first).to_contain_text(NEW_HEADING)
    page.goto("/avtal/mallar")
    row.get_by_role("button", name="Gör Hallands lydelse aktiv").click()
    expect(row).to_contain_text("Aktiv")
    axe_check(page)
    screenshot(page, "templates-versions")

    agreement_id, links = create_and_send(client, api_token, data)
    assert NEW_SENTENCE in frozen_text(app, agreement_id) and NEW_HEADING in frozen_text(app, agreement_id)
    for link, place in zip(links, ("Halmstad", "Varberg")):
        page.goto(path_of(link["url"]))
        expect(page.get_by_text(NEW_SENTENCE)).to_be_visible()
        page.get_by_label("Ditt namn").fill("Anna Andersson")
        page.get_by_label("Ort").fill(place)
        page.get_by_label(re.compile("Jag har läst avtalet")).check()
        page.get_by_role("button", name="Bekräfta avtalet").click()
        expect(page.get_by_role("heading", name="Tack, avtalet är bekräftat")).to_be_visible()
    assert NEW_SENTENCE in flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))
    old = frozen_text(app, before_id)
    assert NEW_SENTENCE not in old and "Principerna, åtgärderna och ansvarspunkterna" in old
