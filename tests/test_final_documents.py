"""The final PDFs read as an archivist would: the frozen pages unchanged, then one signing sheet with
place and date for every party, no paper leftovers, page labels that tell the agreement from its
appendices, an appendix that stands alone, PDF/A details and one structure tree."""

import hashlib
import io
import re
from dataclasses import dataclass

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from service import agreements, signing
from service.audit import Actor
from service.custom_templates import store_template
from service.formatting import local_time, place_and_date, short_title
from service.models import AuditEvent, Confirmation, CustomTemplate

from .helpers import (
    PARTIES_LOOP,
    assemble_final,
    assert_frozen_pages_unchanged,
    confirm,
    count,
    create_and_send,
    docx_with,
    drafting_official,
    final_pdf,
    flat,
    org_number,
    path_of,
    pdf_text,
    save_artifact,
    send_and_confirm,
    send_for_signature,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


OFFICIAL = Actor("user:handlaggare@example.se")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PLACES = ["Halmstad", "Varberg", "Falkenberg", "Kungsbacka"]


@dataclass
class Client:
    ip: str = "192.0.2.44"
    user_agent: str = BROWSER


def complete(app, data, template=None, checked=True):
    """Draft, send, open and confirm every party's link through the domain rules, then assemble.
    `template`: the bytes of a Word template to upload and use instead of the built-in one;
    not `checked`: kept as a template uploaded before today's checks was."""
    db, files = app.extensions["db"], app.extensions["files"]
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with db.session() as session:
        if template and not checked:
            uploaded = CustomTemplate(name="Gammal mall", kind=data["kind"], sha256=files.put(template), variables=[])
            session.add(uploaded)
            session.flush()
        else:
            uploaded = template and store_template(session, files, template, "Egen mall", data["kind"], None)
        official = drafting_official(session)
        agreement_id = agreements.create_draft(session, files, data, official, OFFICIAL, template=uploaded).id
    _, issued = send_for_signature(app, agreement_id, OFFICIAL)
    for i, link in enumerate(issued):
        representative = data["parties"][i]["representative"]
        with db.session() as session:
            signing.open_link(session, serializer, link.token, Client())
            signing.confirm(
                session,
                serializer,
                link.token,
                representative["name"],
                representative["title"],
                PLACES[i % 4],
                Client(),
                max_age_days=30,
            )
    document = assemble_final(app, agreement_id)
    with db.session() as session:
        version = signing.latest_version(session, agreement_id)
        confirmed = session.query(Confirmation).filter_by(version_id=version.id).order_by(Confirmation.id).all()
        dates = [local_time(c.created_at).date() for c in confirmed]
        frozen = files.get(version.pdf_sha256)
    return files.get(document.sha256), frozen, dates


def region_and_associations(data, count):
    """The region and `count` - 1 associations, each with its own email and signer."""
    extra = [
        dict(
            data["parties"][1],
            name=f"Förening nummer {i} i Halland",
            org_number=org_number(f"8020{i:05d}"),
            contact_email=f"forening{i}@example.se",
            representative={"name": f"Ordförande Nummer {i}", "title": "Ordförande"},
        )
        for i in range(1, count)
    ]
    return dict(data, parties=[data["parties"][0], *extra])


def page_texts(pdf):
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def outline_titles(outline):
    for item in outline:
        if isinstance(item, list):
            yield from outline_titles(item)
        else:
            yield item.title


HEADER_ROWS = ("Organisation Signatur Namnförtydligande", "Part Bekräftad av Länk och teknik")
APPENDIX_FOOTER = re.compile(r"Bilaga till avtalet · sida \d+ av \d+")


def body_lines(text, running_title):
    """A page's lines without running header, footer and repeated table header."""
    lines = [flat(line) for line in text.splitlines() if line.strip()]
    return [
        line
        for line in lines
        if not re.fullmatch(r"Sida \d+ av \d+", line)
        and not APPENDIX_FOOTER.fullmatch(line)
        and running_title not in line
        and not line.startswith("Dnr ")
        and line not in HEADER_ROWS
    ]


def assert_fit_to_file(pdf, frozen, data):
    """The frozen pages first, numbered as they were frozen, then the appendix pages, numbered
    on their own; the page labels say which is which; no page is nearly empty."""
    reader = PdfReader(io.BytesIO(pdf))
    texts = page_texts(pdf)
    agreement_pages = len(PdfReader(io.BytesIO(frozen)).pages)
    appendix_pages = len(texts) - agreement_pages
    running_title = short_title(data["title"])
    for number, text in enumerate(texts, start=1):
        if number <= agreement_pages:
            assert f"Sida {number} av {agreement_pages}" in flat(text), f"page {number}"
        else:
            footer = f"Bilaga till avtalet · sida {number - agreement_pages} av {appendix_pages}"
            assert footer in flat(text), f"page {number}"
        lines = body_lines(text, running_title)
        assert len(lines) >= 2, f"page {number} holds only {lines}"
    assert reader.page_labels == [f"Avtal {n}" for n in range(1, agreement_pages + 1)] + [
        f"Bilaga {n}" for n in range(1, appendix_pages + 1)
    ]
    text = flat("\n".join(texts))
    assert "likalydande" not in text and "Ort och datum" not in text and "___" not in text
    assert "Bekräftas elektroniskt" not in text  # no placeholder anywhere
    assert text.count("Avtalet bekräftas elektroniskt av parterna; varje part får den slutliga versionen.") == 2
    assert "{{" not in text and "{%" not in text
    assert_frozen_pages_unchanged(pdf, frozen)
    return reader, text


def assert_pdfa_details(reader, frozen, title):
    root = reader.trailer["/Root"]
    assert (reader.xmp_metadata.pdfaid_part, reader.xmp_metadata.pdfaid_conformance) == ("2", "B")
    assert reader.metadata.title == reader.xmp_metadata.dc_title["x-default"] == title
    created = reader.metadata.creation_date.replace(tzinfo=None)
    assert created == reader.xmp_metadata.xmp_create_date.replace(tzinfo=None, microsecond=0)
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root
    assert all("/StructParents" in page for page in reader.pages)  # every part is tagged
    assert_one_structure_tree(reader)
    filespec = root["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    assert filespec["/F"] == filespec["/UF"] == "avtal-version-1.pdf"
    assert filespec["/AFRelationship"] == "/Source" and hashlib.sha256(frozen).hexdigest() in filespec["/Desc"]
    assert reader.attachments["avtal-version-1.pdf"][0] == frozen
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font)[
                "/FontDescriptor"
            ]
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]


def number_tree_keys(node):
    node = node.get_object()
    yield from node.get("/Nums", [])[::2]
    for kid in node.get("/Kids", []):
        yield from number_tree_keys(kid)


def assert_one_structure_tree(reader):
    """One /Document with the agreement and its appendices as two /Part elements; every page's
    marked content found through the one /ParentTree; every element's page in the file."""
    tree = reader.trailer["/Root"]["/StructTreeRoot"]
    (document,) = [k.get_object() for k in tree["/K"]]
    assert document["/S"] == "/Document"
    parts = [k.get_object() for k in document["/K"]]
    assert [p["/S"] for p in parts] == ["/Part", "/Part"]
    keys = set(number_tree_keys(tree["/ParentTree"]))
    for page in reader.pages:
        assert page["/StructParents"] in keys
    assert tree["/ParentTreeNextKey"] > max(keys)
    pages = {page.indirect_reference.idnum for page in reader.pages}
    pending, seen = list(parts), 0
    while pending:
        element = pending.pop()
        if "/Pg" in element:
            assert element.raw_get("/Pg").idnum in pages
            seen += 1
        kids = element.get("/K", [])
        for kid in kids if isinstance(kids, list) else [kids]:
            kid = kid.get_object() if hasattr(kid, "get_object") else kid
            if isinstance(kid, dict) and kid.get("/Type", "/StructElem") == "/StructElem" and "/S" in kid:
                pending.append(kid)
    assert seen > 10


def assert_appendix(text, data, frozen):
    appendix = text[text.index("Verifieringsbilaga Till avtalet") :]
    assert hashlib.sha256(frozen).hexdigest() in appendix.replace(" ", "")
    assert "sha256sum avtal-version-1.pdf" in appendix and "certutil -hashfile" in appendix
    assert "enkel elektronisk underskrift" in appendix and "eIDAS" in appendix
    assert "Den visar inte vem personen är" in appendix
    for party in data["parties"]:
        assert f"Länk till {party['contact_email']}" in appendix
    assert appendix.count("av handlaggare@example.se") == len(data["parties"])
    assert appendix.count("IP-adress: 192.0.2.44") == len(data["parties"])
    assert "Firefox/128.0" in appendix and "Öppnad första gången" in appendix


def test_halland_final_has_one_filled_signing_sheet(app, halland_data):
    pdf, frozen, dates = complete(app, halland_data)
    save_artifact("final-halland.pdf", pdf)
    reader, text = assert_fit_to_file(pdf, frozen, halland_data)
    assert list(outline_titles(reader.outline)).count("Signering") == 1
    assert sum("Namnförtydligande" in t for t in page_texts(pdf)) == 1
    assert text.count("Bekräftat elektroniskt kl.") == 12
    for i, party in enumerate(halland_data["parties"]):
        assert flat(party["name"]) in text
        assert flat(place_and_date(PLACES[i % 4], dates[i])) in text
    assert_pdfa_details(reader, frozen, halland_data["title"])
    assert_appendix(text, halland_data, frozen)


def test_iop_final_reads_as_signed(app, iop_data):
    pdf, frozen, dates = complete(app, iop_data)
    save_artifact("final-iop.pdf", pdf)
    reader, text = assert_fit_to_file(pdf, frozen, iop_data)
    assert list(outline_titles(reader.outline)).count("Underskrifter") == 1
    for i, party in enumerate(iop_data["parties"]):
        name = party["representative"]["name"]
        assert f"{place_and_date(PLACES[i], dates[i])} {name} {party['representative']['title']}" in text
    assert text.count("Bekräftat elektroniskt kl.") == 2
    # §9: the yearly amount once, inside Region Skåne's own sentence
    assert text.count("1 750 000 kr") == 1 and "samt med 1 750 000 kr årligen som disponeras" in text
    assert "Partnerskapet upphör utan krav på föregående uppsägning" in text
    assert "Överenskommelsen upphör" not in text
    assert_pdfa_details(reader, frozen, iop_data["title"])
    assert_appendix(text, iop_data, frozen)


@pytest.mark.parametrize("count", [200])
def test_long_signing_table_and_appendix_keep_rows_whole(app, halland_data, count):
    data = region_and_associations(halland_data, count)
    pdf, frozen, dates = complete(app, data)
    save_artifact(f"final-halland-{count}.pdf", pdf)
    _, text = assert_fit_to_file(pdf, frozen, data)
    texts = page_texts(pdf)
    sheet = [t for t in texts if "Namnförtydligande" in t]
    assert len(sheet) >= 3  # the table runs over pages, its header row on each
    assert text.count("Bekräftat elektroniskt kl.") == count
    assert all(flat(place_and_date(PLACES[i % 4], dates[i])) in text for i in range(count))


def test_uploaded_template_is_followed_by_one_filled_sheet(app, halland_data):
    template = docx_with("{{ title }}", "Dnr {{ registration_number }}", "Vår egen text om samverkan.", PARTIES_LOOP)
    pdf, frozen, dates = complete(app, halland_data, template)
    save_artifact("final-uploaded-template.pdf", pdf)
    reader = PdfReader(io.BytesIO(pdf))
    text = flat("\n".join(page_texts(pdf)))
    assert "Vår egen text om samverkan." in text
    assert list(outline_titles(reader.outline)).count("Signering") == 1
    assert text.count("Bekräftat elektroniskt kl.") == 12
    assert all(flat(place_and_date(PLACES[i % 4], dates[i])) in text for i in range(12))
    assert_pdfa_details(reader, frozen, halland_data["title"])
    assert_appendix(text, halland_data, frozen)


def test_a_template_branching_on_final_cannot_change_the_terms(app, halland_data):
    """Such a template is refused at upload now; one kept from before still fills the text once:
    the final PDF states the terms the parties confirmed, on the frozen pages themselves."""
    confirmed, other = "Regionen betalar Föreningen 1 000 000 kr per år.", "Föreningen betalar Regionen"
    template = docx_with(
        "{{ title }}", "{% if final %}" + other + " 1 000 000 kr per år.{% else %}" + confirmed + "{% endif %}"
    )
    pdf, frozen, _ = complete(app, halland_data, template, checked=False)
    assert confirmed in flat(pdf_text(frozen))
    text = flat(pdf_text(pdf))
    assert confirmed in text and other not in text
    assert_frozen_pages_unchanged(pdf, frozen)


@pytest.mark.slow
def test_stored_noncharacters_do_not_block_the_final_pdf(app, client, api_token, iop_data):
    agreement_id, _ = send_and_confirm(client, api_token, iop_data)
    with app.extensions["db"].session() as session:  # stored before the forms refused them
        session.execute(
            update(Confirmation).values(signer_name="Anna\ufffeAndersson", place="Malm\ufffe\x0bö", signer_title="\x01")
        )
    document = assemble_final(app, agreement_id)
    assert document is not None
    text = pdf_text(app.extensions["files"].get(document.sha256))
    assert "Andersson" in text and "Verifieringsbilaga" in text


@pytest.mark.slow
def test_reloading_a_link_does_not_grow_the_appendix(app, client, api_token, iop_data, run_jobs):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for _ in range(300):
        assert client.get(path_of(links[0]["url"])).status_code == 200
    for link in links:
        assert confirm(client, link["url"], "Malmö").status_code == 200
    text = flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))
    assert text.count("Öppnad första gången") == 2
    assert "(301 gånger)" in text
    assert count(app, AuditEvent, AuditEvent.event == "link_opened") == 2
