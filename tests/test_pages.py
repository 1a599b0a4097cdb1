"""What a party reads: the HTML text and the page pictures, made once per frozen version."""

import hashlib
import io
import re
import threading

import lxml.html
import pytest
from docx import Document
from docx.oxml import parse_xml
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import delete, select

from service import agreements, renditions, signing
from service.audit import Actor
from service.custom_templates import store_template
from service.documents.fill import TemplateFillError
from service.documents.pages import WIDTHS, docx_html
from service.documents.wording import html_words
from service.models import AuditEvent, Rendition, Version

from .helpers import (
    PARTIES_LOOP,
    bearer,
    count,
    create_and_send,
    drafting_official,
    handler_of,
    load_example,
    path_of,
    pdf_text,
    send_for_signature,
    stored_files,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


OFFICIAL = Actor("user:test@example.se")
# Page numbers ("Sida 2 av 7") are fields LibreOffice fills in at layout, in the page footer:
# they belong to the PDF's pages, not to the agreement's text, and the HTML is not paged.
PAGE_NUMBER = re.compile(r"Sida \d+ av \d+")


def words(text: str) -> set[str]:
    """Words, folded: a style may set a heading in capitals, which a screen reader reads as written."""
    return set(re.findall(r"[^\W_]+", text.casefold()))


def agreement_text(html: str) -> str:
    """The text of the agreement on the party's page, element by element."""
    (doc,) = lxml.html.fromstring(html).xpath('//div[@class="doc"]')
    return " ".join(doc.itertext())


def uploaded_template() -> bytes:
    """An official's own Word template: headings, a bullet list, a table, a footer."""
    doc = Document()
    doc.add_heading("{{ title }}", level=1)
    doc.add_paragraph("Ett avtal i vår egen mall, mellan:")
    doc.add_paragraph("{%p for p in parties %}")
    doc.add_paragraph("{{ p.name }} ({{ p.org_number }})", style="List Bullet")
    doc.add_paragraph("{%p endfor %}")
    doc.add_heading("Underskrifter", level=2)
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Organisation"
    table.cell(0, 1).text = "Företrädare"
    table.cell(1, 0).text = "{{ parties[0].name }}"
    table.cell(1, 1).text = "{{ parties[0].representative.name }}"
    doc.sections[0].footer.paragraphs[0].text = "Sida 1 av 1"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def send_with_template(app, office, data, template_bytes):
    files = app.extensions["files"]
    with app.extensions["db"].session() as session:
        template = store_template(session, files, template_bytes, "Vår mall", data["kind"], None)
        agreement = agreements.create_draft(session, files, data, drafting_official(session), OFFICIAL, template)
    _, issued = send_for_signature(app, agreement.id, OFFICIAL)
    return agreement.id, [f"/sign/{link.token}" for link in issued]


def frozen_pdf(app, agreement_id) -> bytes:
    with app.extensions["db"].session() as session:
        return app.extensions["files"].get(signing.latest_version(session, agreement_id).pdf_sha256)


@pytest.mark.parametrize("kind", ["iop", "overenskommelse", "uploaded"])
def test_every_word_of_the_frozen_pdf_is_on_the_party_page(app, client, api_token, office, kind):
    if kind == "uploaded":
        agreement_id, paths = send_with_template(app, office, load_example("iop-skane-2021.json"), uploaded_template())
    else:
        example = "iop-skane-2021.json" if kind == "iop" else "overenskommelse-halland.json"
        agreement_id, links = create_and_send(client, api_token, load_example(example))
        paths = [path_of(link["url"]) for link in links]
    page = client.get(paths[0])
    assert page.status_code == 200
    shown = agreement_text(page.get_data(as_text=True))
    pdf = frozen_pdf(app, agreement_id)
    if kind != "uploaded":  # the download is readable by assistive technology too
        catalog = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
        assert catalog["/Lang"] == "sv-SE" and catalog["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in catalog
    pdf_words = words(PAGE_NUMBER.sub(" ", pdf_text(pdf)))
    assert len(pdf_words) > 25
    assert pdf_words - words(shown) == set()
    assert "sida" not in words(shown)  # the footer is not part of the text


def test_headings_lists_and_tables_keep_their_structure(app, office, iop_data, halland_data):
    html = docx_html(uploaded_template())
    assert "<h3>{{ title }}</h3>" in html and "<h4>Underskrifter</h4>" in html
    assert "<ul><li>{{ p.name }} ({{ p.org_number }})</li></ul>" in html
    assert "<table><tr><td><p>Organisation</p></td><td><p>Företrädare</p></td></tr>" in html


def test_text_is_escaped_in_the_html(iop_data):
    doc = Document()
    doc.add_paragraph('<script>alert("x")</script> & <b>fet</b>')
    out = io.BytesIO()
    doc.save(out)
    html = docx_html(out.getvalue())
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in html


def rendition_rows(app):
    with app.extensions["db"].session() as session:
        return session.scalars(select(Rendition)).all()


def picture_urls(html: str) -> list[str]:
    return re.findall(r'<img class="page"[^>]* src="([^"]+)"', html)


def test_pictures_are_made_when_frozen_at_two_widths_and_never_per_view(app, client, api_token, halland_data):
    agreement_id, links = create_and_send(client, api_token, halland_data)
    (row,) = rendition_rows(app)
    assert row.pdf_sha256 == hashlib.sha256(frozen_pdf(app, agreement_id)).hexdigest()
    files = app.extensions["files"]
    for page in row.pages:
        for width in WIDTHS:
            image = Image.open(io.BytesIO(files.get(page["png"][str(width)])))
            assert (image.format, image.mode, image.width) == ("PNG", "P", width)

    before = stored_files(app)
    for link in links[:3]:
        html = client.get(path_of(link["url"])).get_data(as_text=True)
        assert len(picture_urls(html)) == len(row.pages)
        for url in picture_urls(html):
            assert client.get(url).status_code == 200
    assert stored_files(app) == before and len(rendition_rows(app)) == 1


def test_pictures_are_cached_for_good_and_answered_304(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    html = client.get(path_of(links[0]["url"])).get_data(as_text=True)
    url = picture_urls(html)[0]
    sha = url.rsplit("/", 1)[1].removesuffix(".png")
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert hashlib.sha256(response.data).hexdigest() == sha
    assert response.headers["ETag"] == f'"{sha}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    again = client.get(url, headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304 and again.data == b""
    for garbage in ('"', "W/", "*x, ,,", "ä" * 50, '"' + "0" * 64 + '"'):
        assert client.get(url, headers={"If-None-Match": garbage}).status_code == 200


def test_bad_picture_requests_are_plain_404s(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    first, second = (path_of(link["url"]) for link in links)
    urls = picture_urls(client.get(first).get_data(as_text=True))
    count = len(urls)
    sha_of_page_1 = urls[0].rsplit("/", 1)[1]
    sha_of_page_2 = urls[1].rsplit("/", 1)[1]
    bad = [
        f"{first}/sida/{count + 1}/{sha_of_page_1}",  # out of range
        f"{first}/sida/0/{sha_of_page_1}",
        f"{first}/sida/99999999999999999999/{sha_of_page_1}",
        f"{first}/sida/1/{sha_of_page_2}",  # another page's picture
        f"{first}/sida/1/{'0' * 64}.png",
        f"{first}/sida/1/not-a-hash.png",
        f"/sign/x/sida/1/{sha_of_page_1}",  # no token of ours
    ]
    for url in bad:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Traceback" not in response.get_data(as_text=True)

    # The text changes: back to a draft, then a new version. A draft has no pictures, the
    # old link's page is refused, and no token shows another version's pictures.
    data = dict(iop_data, title=iop_data["title"] + " (ändrad)")
    with app.extensions["db"].session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, data, handler_of(session, agreement.id), OFFICIAL
        )
    assert client.get(second).status_code == 410
    preview = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token))
    assert preview.status_code == 200 and preview.json["status"] == "draft"
    sent = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token)).json
    new = path_of(sent["links"][0]["url"])
    new_urls = picture_urls(client.get(new).get_data(as_text=True))
    assert all(client.get(url).status_code == 200 for url in new_urls)
    picture = urls[0][len(first) :]
    new_picture = new_urls[0][len(new) :]
    assert picture != new_picture
    assert client.get(new + picture).status_code == 404  # a token for another version
    assert client.get(first + new_picture).status_code == 404
    assert client.get(second + new_picture).status_code == 404


def test_a_version_frozen_before_renditions_gets_its_own_once(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        session.execute(delete(Rendition))  # as a database from before this change has it
    seen = app.extensions["renditions"]  # and as a process that has not seen it yet:
    app.extensions["renditions"] = renditions.Renditions(seen.db, seen.files, seen.lock_dir)
    statuses = []

    def view(link):
        statuses.append(app.test_client().get(path_of(link["url"])).status_code)

    threads = [threading.Thread(target=view, args=(links[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    assert count(app, Rendition) == 1


def numbered_list_template() -> bytes:
    doc = Document()
    doc.add_paragraph("{{ title }}")
    doc.add_paragraph(PARTIES_LOOP)
    doc.add_heading("Åtaganden", level=1)
    doc.add_paragraph("Parterna åtar sig att", style="List Number")
    doc.add_paragraph("följa upp verksamheten.", style="List Number")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_numbered_lists_show_the_numbers_the_pdf_prints(app, client, office, iop_data):
    agreement_id, paths = send_with_template(app, office, iop_data, numbered_list_template())
    page = agreement_text(client.get(paths[0]).get_data(as_text=True))
    assert "1. Parterna åtar sig att" in " ".join(page.split()) and "2. följa upp" in " ".join(page.split())
    assert "1. Parterna åtar sig att" in " ".join(pdf_text(frozen_pdf(app, agreement_id)).split())


def test_a_text_whose_page_and_pdf_differ_is_not_sent_and_the_refusal_is_audited(app, office, iop_data):
    """Text in a bidi container (w:dir) is printed by LibreOffice, but the page's reader does not
    walk into it: no list of constructs names it, and the word comparison at freezing catches it."""
    doc = Document()
    doc.add_paragraph(PARTIES_LOOP)
    doc.add_paragraph("{{ title }}")
    clause = doc.add_paragraph("Regionen betalar")
    clause._p.append(
        parse_xml(
            '<w:dir xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" w:val="ltr">'
            '<w:r><w:t xml:space="preserve"> inte</w:t></w:r></w:dir>'
        )
    )
    clause.add_run(" Föreningen.")
    out = io.BytesIO()
    doc.save(out)
    with app.extensions["db"].session() as session:
        template = store_template(session, app.extensions["files"], out.getvalue(), "Dold riktning", "iop", None)
        official = drafting_official(session)
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, official, OFFICIAL, template)
    with pytest.raises(agreements.InvalidInput) as refused:
        send_for_signature(app, agreement.id, OFFICIAL)
    assert "Texten på partens sida och i PDF:en skiljer sig åt" in refused.value.message
    assert "skåne regionen betalar”: sidan visar ”föreningen”, PDF:en har ”inte föreningen”" in refused.value.message
    assert count(app, Version, Version.agreement_id == agreement.id) == 0
    with app.extensions["db"].session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == "send_refused")).all()
        assert event.details["reason"] == refused.value.message
        assert session.get(agreements.Agreement, agreement.id).status == "draft"


def test_xml_written_by_a_template_at_fill_time_is_checked_too(app, office, iop_data):
    """`safe` lets a template write XML the upload check never saw: hidden text is caught in the filled file."""
    hidden = "</w:t></w:r><w:r><w:rPr><w:vanish/></w:rPr><w:t>Föreningen betalar Regionen."
    doc = Document()
    doc.add_paragraph("{{ title }} {{ '" + hidden + "'|safe }}")
    doc.add_paragraph(PARTIES_LOOP)
    out = io.BytesIO()
    doc.save(out)
    with app.extensions["db"].session() as session:
        template = store_template(session, app.extensions["files"], out.getvalue(), "Dold", "iop", None)
        official = drafting_official(session)
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, official, OFFICIAL, template)
    with pytest.raises(TemplateFillError) as refused:
        send_for_signature(app, agreement.id, OFFICIAL)
    assert "Det ifyllda dokumentet kan inte skickas: Mallen innehåller dold text" in refused.value.message
    assert count(app, Version, Version.agreement_id == agreement.id) == 0
    assert count(app, AuditEvent, AuditEvent.event == "send_refused") == 1


def test_formatting_that_starts_inside_a_word_keeps_it_one_word():
    html = '<p class="doc-header">Sidhuvud</p><p>Regionen betalar <strong>var</strong><em>je</em> år<br>1 000 kr</p>'
    assert html_words(html) == ["regionen", "betalar", "varje", "år", "1", "000", "kr"]
