"""Helpers the test modules share: import them from here, never from another test module.
Fixtures live in conftest.py, which takes what it needs from here."""

import io
import json
import os
import re
import subprocess
import threading
import time
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pikepdf
from axe_playwright_python.sync_playwright import Axe
from docx import Document
from pypdf import PdfReader
from sqlalchemy import func, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

# Defined with the servers, which scripts/cluster imports without the test helpers.
from scripts.servers import ROOT, free_port, processes_mentioning  # noqa: F401
from service import agreements, audit, final, signing, users
from service.formatting import local_time
from service.models import Agreement, FinalDocument, User, utcnow
from service.schema import luhn_ok

EXAMPLES = ROOT / "scripts" / "examples"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
ON_POSTGRES = os.environ.get("AVTAL_TEST_DATABASE") == "postgresql"  # set by `scripts/test --postgres`
LINK_URL = re.compile(r"https?://\S+/sign/\S+")  # a signing link in an email

# Free text no entry point may store: each would corrupt a document or hide what it says.
HOSTILE_TEXT = {
    "NUL": "Före\x00efter",
    "escape": "Före\x1b[31mefter",
    "DEL": "Före\x7fefter",
    "C1 next line": "Före\x85efter",
    "C1 control sequence": "Före\x9befter",
    "noncharacter U+FFFE": "Före\ufffeefter",
    "noncharacter U+FFFF": "Före\uffffefter",
    "noncharacter U+FDD0": "Före\ufdd0efter",
    "noncharacter U+10FFFF": "Före\U0010ffffefter",
    "lone surrogate": "Före\ud800efter",
    "right-to-left override": "Före\u202eretfe",
    "left-to-right embedding": "Före\u202aefter",
    "pop directional formatting": "Före\u202cefter",
    "right-to-left isolate": "Före\u2067efter\u2069",
    "first strong isolate": "Före\u2068efter",
}
# A form post is UTF-8, which cannot carry a lone surrogate (a browser sends U+FFFD instead).
HOSTILE_FORM_TEXT = {name: value for name, value in HOSTILE_TEXT.items() if name != "lone surrogate"}


def org_number(first_nine: str) -> str:
    """A valid organisationsnummer: nine digits and the check digit the product's rule accepts."""
    check = next(d for d in "0123456789" if luhn_ok(first_nine + d))
    return f"{first_nine[:6]}-{first_nine[6:]}{check}"


def load_example(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def many_parties(halland_data, n):
    """The Halland agreement with `n` associations as its parties, for a long document."""
    template = halland_data["parties"][1]
    halland_data["parties"] = [
        dict(template, name=f"Förening nummer {i}", org_number=org_number(f"802{i:06d}")) for i in range(n)
    ]
    return halland_data


PDFA_ID = "{http://www.aiim.org/pdfa/ns/id/}"
INFO_TO_XMP = {
    "/Producer": "{http://ns.adobe.com/pdf/1.3/}Producer",
    "/Creator": "{http://ns.adobe.com/xap/1.0/}CreatorTool",
    "/Title": "{http://purl.org/dc/elements/1.1/}title",
}
FORBIDDEN_ANNOTATION_FLAGS = 1 | 2 | 32  # Invisible, Hidden, NoView
PRINT = 4


def pdfa_problems(pdf: bytes) -> list[str]:
    """The PDF/A-2b rules a seal or a merge can break, as a list of what is wrong (empty: none)."""
    problems = []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
        if (meta.get(PDFA_ID + "part"), meta.get(PDFA_ID + "conformance")) != ("2", "B"):
            problems.append("XMP pdfaid is not part 2, conformance B")
        for key, xmp_key in INFO_TO_XMP.items():
            if key in doc.docinfo and str(doc.docinfo[key]) != meta.get(xmp_key):
                problems.append(f"Info {key} {str(doc.docinfo[key])!r} differs from XMP {meta.get(xmp_key)!r}")
        if "/OutputIntents" not in doc.Root:
            problems.append("no /OutputIntents")
        if "/Perms" in doc.Root and set(doc.Root.Perms.keys()) != {"/DocMDP"}:
            problems.append(f"/Perms holds {set(doc.Root.Perms.keys())}")
        for page in doc.pages:
            for annot in page.get("/Annots", []):
                flags = int(annot.get("/F", 0))
                if not flags & PRINT or flags & FORBIDDEN_ANNOTATION_FLAGS:
                    problems.append(f"annotation flags {flags}")
                if annot.get("/Subtype") == "/Widget" and "/AP" not in annot and any(float(v) for v in annot.Rect):
                    problems.append("a visible widget without an appearance")
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font" and not _embedded(obj):
                problems.append(f"font {obj.get('/BaseFont')} not embedded")
        for name, spec in doc.attachments.items():
            if "/F" not in spec.obj or "/UF" not in spec.obj:
                problems.append(f"attachment {name} lacks /F or /UF")
    return problems


def _embedded(font) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True
    if font.get("/Subtype") == "/Type0":
        return all(_embedded(d) for d in font.DescendantFonts)
    descriptor = font.get("/FontDescriptor", {})
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _stream_bytes(obj) -> list[bytes]:
    obj = obj.get_object()
    if isinstance(obj, list):
        return [part.get_object().get_data() for part in obj]
    return [obj.get_data()]


def _page_fonts(page) -> dict[str, bytes]:
    """Each font of a page by its resource name: its embedded font program's bytes."""
    fonts = {}
    for name, font in page["/Resources"].get("/Font", {}).items():
        font = font.get_object()
        holder = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        descriptor = holder["/FontDescriptor"].get_object()
        program = next(descriptor[k] for k in ("/FontFile2", "/FontFile", "/FontFile3") if k in descriptor)
        fonts[name] = program.get_object().get_data()
    return fonts


def _page_images(page) -> dict[str, bytes]:
    objects = page["/Resources"].get("/XObject", {})
    return {name: x.get_object().get_data() for name, x in objects.items()}


def page_pixels(pdf: bytes, index: int) -> bytes:
    """Page `index` rendered by PDFium at 100 dpi, as raw RGB bytes."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return document[index].render(scale=100 / 72).to_pil().convert("RGB").tobytes()
    finally:
        document.close()


def assert_frozen_pages_unchanged(final_pdf: bytes, frozen: bytes):
    """The final PDF starts with the frozen PDF's pages, unchanged: the same content streams, fonts
    and images, byte for byte, and the same pixels when rendered."""
    final_pages, frozen_pages = PdfReader(io.BytesIO(final_pdf)).pages, PdfReader(io.BytesIO(frozen)).pages
    assert len(final_pages) > len(frozen_pages)
    for index, (kept, confirmed) in enumerate(zip(final_pages, frozen_pages)):
        assert _stream_bytes(kept["/Contents"]) == _stream_bytes(confirmed["/Contents"]), f"page {index + 1}"
        assert _page_fonts(kept) == _page_fonts(confirmed), f"page {index + 1}"
        assert _page_images(kept) == _page_images(confirmed), f"page {index + 1}"
        assert kept.mediabox == confirmed.mediabox
        assert page_pixels(final_pdf, index) == page_pixels(frozen, index), f"page {index + 1}"


def flat(text: str) -> str:
    """Text with all whitespace runs as single spaces, for phrases that wrap across lines."""
    return " ".join(text.split())


def save_artifact(name, data: bytes):
    """Keep a file a person may want to look at after the run (test-artifacts/, not in git)."""
    path = ROOT / "test-artifacts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def wait_for(predicate, seconds=90, interval=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def swedish_today():
    """Today's date in Sweden, which the product's dates and periods use (not UTC's, an hour behind)."""
    return local_time(utcnow()).date()


def count(app, model, *where) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def stored_files(app) -> list[str]:
    """The names of the files in the app's store folder, sorted."""
    root = app.extensions["files"].root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email, password, next_query=None, **request):
    """Log in through the real login form, CSRF token included. `next_query` is written into
    the URL as given (/login?next=...), as an attacker would; `request` goes to both requests
    (follow_redirects, base_url)."""
    token = csrf_token(client.get("/login", **request).get_data(as_text=True))
    url = "/login" if next_query is None else f"/login?next={next_query}"
    return client.post(url, data={"csrf_token": token, "email": email, "password": password}, **request)


def user_client(app, make_user, role, email):
    """A logged-in test client of its own, and an API token, for a new user."""
    user, password = make_user(role, email)
    client = app.test_client()
    login(client, email, password)
    with app.extensions["db"].session() as session:
        token = users.issue_api_token(session, session.get(User, user.id))
    return client, token


def post_on_page(client, page_url, action_url, **form):
    """Post a form of `page_url` (a button) to `action_url`, with the page's CSRF token."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action_url, data={"csrf_token": token, **form})


def upload_template(client, data, kind="iop", name="Vår mall"):
    """Upload a Word template on the templates page, as an official does."""
    token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
    return client.post(
        "/avtal/mallar",
        data={"csrf_token": token, "name": name, "kind": kind, "file": (io.BytesIO(data), "mall.docx")},
        content_type="multipart/form-data",
    )


def problem_fields(response) -> dict[str, str]:
    """An API problem document's field errors, by JSON pointer ('#/title': message)."""
    return {error["pointer"]: error["message"] for error in response.json["errors"]}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def create_and_send(client, api_token, data):
    """Create and send an agreement through the API: (agreement id, [{"party", "url"}])."""
    created = client.post("/api/agreements", json=data, headers=bearer(api_token))
    assert created.status_code == 201, created.json
    agreement_id = created.json["id"]
    sent = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token))
    assert sent.status_code == 200, sent.json
    return agreement_id, sent.json["links"]


def path_of(url):
    """The path of a signing link, from '/sign/' on."""
    return url[url.index("/sign/") :]


def confirm(client, url, place, name="Anna Andersson", title="Ordförande", accept="ja"):
    """Confirm through the party's page as a person would; returns the response."""
    page = client.get(path_of(url))
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "signer_name": name,
        "signer_title": title,
        "place": place,
    }
    if accept:
        form["accept"] = accept
    return client.post(path_of(url) + "/bekrafta", data=form)


def decline(client, url, reason, name="Bertil Berg", title="Ordförande", receipt_email="", sure="ja"):
    """Decline through the party's page, answering "Är du säker?" with `sure`; returns the response."""
    page = client.get(path_of(url))
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "decline_name": name,
        "decline_title": title,
        "reason": reason,
        "decline_receipt_email": receipt_email,
        "sure": sure,
    }
    return client.post(path_of(url) + "/avboj", data=form)


def drafting_official(session, email="handlaggare@region.example.se") -> User:
    """An official to draft agreements in the domain with (made on first use): its handläggare."""
    found = session.scalar(select(User).where(User.email == email))
    return found or users.create_user(session, email, "official", users.generate_password())


def handler_of(session, agreement_id) -> User:
    """The agreement's first handläggare, who may change it."""
    return agreements.handlers(session, session.get(Agreement, agreement_id))[0]


def send_for_signature(app, agreement_id, actor):
    """Freeze and send through the domain rules with the app's components, as the agreement's
    first handläggare: (agreement, issued links)."""
    x = app.extensions
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    days = app.config["LINK_MAX_AGE_DAYS"]
    with x["db"].session() as session:
        user = handler_of(session, agreement_id)
    return agreements.send_for_signature(
        x["db"], x["files"], x["office"], x["seal"], serializer, agreement_id, days, user, actor
    )


def confirm_each(app, issued, place="Halmstad"):
    """Every issued link confirmed through the domain rules, as the parties' pages do."""
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    client = audit.Actor("", "192.0.2.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    for link in issued:
        with app.extensions["db"].session() as session:
            signing.confirm(
                session, serializer, link.token, "Anna Andersson", "Ordförande", place, client, max_age_days=30
            )


def assemble_final(app, agreement_id):
    """The final PDF made as the job makes it (None when there is nothing to make)."""
    x = app.extensions
    return final.assemble_final(x["db"], x["files"], x["office"], x["seal"], agreement_id)


def wait_for_finals(app, agreement_id, number=1):
    wait_for(lambda: count(app, FinalDocument, FinalDocument.agreement_id == agreement_id) >= number)


def final_pdf(app, client, api_token, agreement_id, number=1):
    """The agreement's final PDF (number `number`) once the job has made it, through the API."""
    wait_for_finals(app, agreement_id, number)
    response = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
    assert response.status_code == 200
    return response.data


def send_and_confirm(client, api_token, data, places=("Kristianstad", "Malmö")):
    """Send and confirm by every party (in `places`, in turn), without waiting for the final
    PDF: (agreement id, links)."""
    agreement_id, links = create_and_send(client, api_token, data)
    for i, link in enumerate(links):
        assert confirm(client, link["url"], places[i % len(places)]).status_code == 200
    return agreement_id, links


def complete_iop(app, client, api_token, iop_data) -> int:
    """Region Skåne's IOP, confirmed in Kristianstad and Malmö, with its final PDF (needs `run_jobs`)."""
    agreement_id, _ = send_and_confirm(client, api_token, iop_data)
    wait_for_finals(app, agreement_id)
    return agreement_id


# The loop every template needs: an agreement's text names its parties.
PARTIES_LOOP = "{% for p in parties %}{{ p.name }}; {% endfor %}"


def docx_with(*lines) -> bytes:
    """A Word document with one paragraph per line."""
    doc = Document()
    for line in lines:
        doc.add_paragraph(line)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def visible_text(response) -> str:
    """The page's text as a reader sees it: no tags, single spaces."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def field_error(html, name) -> str:
    """The error shown at a field, without the 'Fel: ' prefix for screen readers."""
    match = re.search(
        rf'<p class="field__error" id="{name}-error"><span class="visually-hidden">Fel: </span>(.*?)</p>', html, re.S
    )
    return unescape(match.group(1)) if match else ""


class Receiver:
    """An integration's webhook endpoint: accepts a delivery only if a known secret verifies it."""

    def __init__(self, *secrets, answer=204):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.secrets = list(secrets)
        self.answer = answer
        self.received = []  # (headers, payload) of every verified delivery
        self.refused = []  # bodies whose signature did not verify
        self._server = None

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                for secret in receiver.secrets:
                    try:
                        payload = Webhook(secret).verify(body, headers)
                    except WebhookVerificationError:
                        continue
                    receiver.received.append((headers, payload))
                    self.send_response(receiver.answer)
                    self.end_headers()
                    return
                receiver.refused.append(body)
                self.send_response(400)
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def types(self):
        return sorted(payload["type"] for _, payload in self.received)


# --- in the browser ---


def log_in(page, make_user, role="official", email="anna.andersson@region.example.se"):
    """Make a user and log in as them through the login page; returns the user."""
    user, password = make_user(role, email)
    page.goto("/login")
    page.get_by_label("E-postadress").fill(user.email)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    return user


def fill_party(page, i, party):
    prefix = f"#parties-{i}-"
    page.locator(prefix + "name").fill(party["name"])
    page.locator(prefix + "org_number").fill(party["org_number"])
    page.locator(prefix + "kind").select_option(party["kind"])
    page.locator(prefix + "contact_email").fill(party["contact_email"])
    page.locator(prefix + "representative-name").fill(party["representative"]["name"])
    page.locator(prefix + "representative-title").fill(party["representative"]["title"])


def axe_check(page):
    """Fail on any serious or critical accessibility violation axe-core finds on the page."""
    violations = Axe().run(page).response["violations"]
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{v['impact']}: {v['id']} – {v['help']}: {[n['target'] for n in v['nodes']]}" for v in serious
    )


SIZES = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 900}}


def at(browser, live_server, size):
    """A fresh Swedish browser page of its own context, at a size of SIZES."""
    context = browser.new_context(locale="sv-SE", base_url=live_server, viewport=SIZES[size])
    return context.new_page()


def fits(page, size):
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]


def every_size(page, name=""):
    """A page reached once, checked as a phone and a desktop show it: axe, the page within the
    width, and a screenshot of each when `name` is given. The page is left at phone size."""
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        axe_check(page)
        fits(page, size)
        if name:
            screenshot(page, f"{name}-{size}")
    page.set_viewport_size(SIZES["phone"])


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


# --- templates edited as Word and LibreOffice do ---

NEW_SENTENCE = "Parterna träffas varje höst för att se över hur principerna efterlevs."
NEW_HEADING = "Principer, åtgärder och ansvar"


def edited_as_word_does(docx: bytes) -> bytes:
    """A sentence and a heading changed, each over several runs with their own formatting,
    and a tag split over runs (`{{ ti` + `tle }}`), as Word saves an edit."""
    doc = Document(io.BytesIO(docx))
    for paragraph in doc.paragraphs:
        if paragraph.text.startswith("Principerna, åtgärderna"):
            for run in paragraph.runs[1:]:
                run._r.getparent().remove(run._r)
            paragraph.runs[0].text = NEW_HEADING[:10]
            paragraph.add_run(NEW_HEADING[10:]).italic = True
        if paragraph.text.startswith("Avtalet bekräftas elektroniskt"):
            for run in paragraph.runs[1:]:
                run._r.getparent().remove(run._r)
            paragraph.runs[0].text = "Parterna träffas "  # Word splits where formatting changes
            paragraph.add_run(NEW_SENTENCE.removeprefix("Parterna träffas ") + " Det gäller {{ ti").bold = True
            paragraph.add_run("tle }}.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def with_updates(pdf: bytes, updates: int) -> bytes:
    """`pdf` followed by `updates` incremental updates, each rewriting one small object,
    written directly (about 200 bytes each): the shape of the /verifiera CPU attack."""
    root = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", pdf)[-1]
    size = max(int(n) for n in re.findall(rb"/Size\s+(\d+)", pdf))
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    out = io.BytesIO()
    out.write(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    for i in range(updates):
        offset = out.tell()
        out.write(b"%d 0 obj\n<< /N %d >>\nendobj\n" % (size, i))
        xref = out.tell()
        out.write(b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (size, offset))
        out.write(b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size + 1, root, prev, xref))
        prev = xref
    return out.getvalue()


def xlsx_with_member(member: str, write, patch=None) -> bytes:
    """A one-row Excel list with `member` replaced by what `write(file)` writes into it
    (streamed, so a member may unpack to gigabytes while the list stays small); `patch`
    maps other members' names to a function that changes their bytes."""
    patch = patch or {}
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Namn", "Organisationsnummer", "E-post", "Firmatecknare", "Titel"])
    book.active.append(["Förening", "802000-0000", "a@example.se", "Anna", "Ordförande"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info.filename, patch.get(info.filename, lambda x: x)(source.read(info)))
        with target.open(member, "w", force_zip64=True) as f:
            write(f)
    return out.getvalue()


def shared_strings_bomb(unpacked_bytes: int) -> bytes:
    """An Excel list whose sharedStrings.xml unpacks to `unpacked_bytes` of one long string."""

    def write(f):
        f.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
        chunk = b"A" * (1024 * 1024)
        for _ in range(unpacked_bytes // len(chunk)):
            f.write(chunk)
        f.write(b"</t></si></sst>")

    kind = "officeDocument/2006/relationships/sharedStrings"
    patch = {  # openpyxl writes strings inline: declare the part so that it is read
        "[Content_Types].xml": lambda x: x.replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType='
            b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        ),
        "xl/_rels/workbook.xml.rels": lambda x: x.replace(
            b"</Relationships>",
            b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/%s" Target="sharedStrings.xml"/>'
            b"</Relationships>" % kind.encode(),
        ),
    }
    return xlsx_with_member("xl/sharedStrings.xml", write, patch)


def docx_with_linked_image(url: str) -> bytes:
    """A document whose one picture is linked (`<a:blip r:link>`) to `url`, not embedded."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.ns import qn
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    doc = Document()
    doc.add_paragraph("Länkad bild:")
    doc.add_picture(io.BytesIO(png.getvalue()))
    blip = doc.element.body.xpath(".//a:blip")[0]
    blip.set(qn("r:link"), doc.part.relate_to(url, RT.IMAGE, is_external=True))
    del blip.attrib[qn("r:embed")]
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def saved_by_libreoffice(docx: bytes, tmp_path) -> bytes:
    """The file opened and saved again by LibreOffice, with a profile of its own."""
    source = tmp_path / "mall.docx"
    source.write_bytes(docx)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
            str(tmp_path / "out"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (tmp_path / "out" / "mall.docx").read_bytes()


class Listener:
    """An HTTP server on loopback that records every request LibreOffice might send it."""

    def __init__(self):
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                listener.requests.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.end_headers()

            do_GET = do_HEAD = do_OPTIONS = do_POST = _record

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
