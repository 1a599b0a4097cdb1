"""The threat model's second round (issue "Security, round two"): each test is what an
attacker with a link, an official's account or a template tried, and what they now see."""

import io
import os
import re
import resource
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.oxml import parse_xml
from sqlalchemy import select, update

from service import agreements, create_app, final, forms, mail, users
from service import migrate as migrations
from service.audit import Actor
from service.models import (
    Agreement,
    AuditEvent,
    Confirmation,
    CustomTemplate,
    FinalDocument,
    SigningLink,
    User,
    Version,
)

from .helpers import (
    ROOT,
    assemble_final,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    docx_with,
    final_pdf,
    flat,
    login,
    path_of,
    pdf_text,
    stored_files,
    visible_text,
)


def login_with_next(client, email, password, next_query):
    """Log in at /login?next=<next_query>, the query written into the URL as the attacker does."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(f"/login?next={next_query}", data={"csrf_token": token, "email": email, "password": password})


# --- 3. open redirect after login ---


@pytest.mark.parametrize(
    "next_path",
    ["/%09/evil.example", "/%5Cevil.example", "/%0D%0ASet-Cookie:%20x=1", "/%0A/evil.example", "//evil", "/%2F/evil"],
)
def test_login_never_redirects_off_the_site(client, make_user, next_path):
    _, password = make_user("official", "anna@example.se")
    response = login_with_next(client, "anna@example.se", password, next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_still_returns_to_a_page_on_the_site(client, make_user):
    _, password = make_user("official", "anna@example.se")
    response = login_with_next(client, "anna@example.se", password, "/arkiv%3Fq%3DSk%25C3%25A5ne")
    assert response.headers["Location"] == "/arkiv?q=Sk%C3%A5ne"


# --- 8. revocable sessions ---


def test_a_saved_cookie_stops_working_after_logout(app, client, make_user):
    _, password = make_user("official", "anna@example.se")
    login(client, "anna@example.se", password)
    saved = client.get_cookie("session").value
    page = client.get("/avtal")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})

    thief = app.test_client()
    thief.set_cookie("session", saved)
    response = thief.get("/avtal")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_password_change_ends_every_session(app, client, runner, make_user):
    _, password = make_user("official", "anna@example.se")
    login(client, "anna@example.se", password)
    other_device = app.test_client()
    login(other_device, "anna@example.se", password)
    assert client.get("/avtal").status_code == 200 and other_device.get("/avtal").status_code == 200

    result = runner.invoke(args=["users", "password", "--email", "anna@example.se", "--password", "ett-nytt-losenord"])
    assert result.exit_code == 0, result.output
    assert client.get("/avtal").status_code == 302
    assert other_device.get("/avtal").status_code == 302
    login(client, "anna@example.se", "ett-nytt-losenord")
    assert client.get("/avtal").status_code == 200


# --- 9. caching and transport ---


@pytest.mark.slow
def test_personal_data_is_never_cached(app, client, api_token, iop_data, make_user, run_jobs):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    api_json = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token))
    assert api_json.headers["Cache-Control"] == "no-store"
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    final_pdf(app, client, api_token, agreement_id)
    assert client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token)).headers[
        "Cache-Control"
    ] == ("no-store")

    _, password = make_user("archivist", "arkiv@example.se")
    login(client, "arkiv@example.se", password)
    for path in ("slutlig/1.pdf", "logg.json", "logg.csv"):
        response = client.get(f"/arkiv/{agreement_id}/{path}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_when_cookies_are_secure(tmp_path, office_pool, monkeypatch):
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "secure"))
    monkeypatch.setenv("AVTAL_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True}, office=office_pool)
    migrations.upgrade(app.extensions["db"])
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- 12. deeply nested JSON ---


@pytest.mark.parametrize("body", [b"[" * 100000, b'{"a":' * 50000, b'{"title": ' + b"[" * 40 + b"]" * 40 + b"}"])
def test_deeply_nested_json_gets_a_swedish_400(client, api_token, body):
    response = client.post("/api/agreements", data=body, content_type="application/json", headers=bearer(api_token))
    assert response.status_code == 400
    assert "nästlat" in response.get_json()["message"]


def test_brackets_inside_strings_do_not_count_as_nesting(client, api_token, iop_data):
    iop_data["title"] = "[[[[[[[[[[" * 5 + "{{{{" * 10
    response = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert response.status_code == 201, response.json


# --- 15. file permissions ---


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_instance_folder_and_files_are_private(app, client, api_token, iop_data):
    create_and_send(client, api_token, iop_data)
    instance = app.instance_path
    assert mode(instance) == 0o700
    assert mode(os.path.join(instance, "avtal.sqlite3")) == 0o600
    assert mode(os.path.join(instance, "jobs.sqlite3")) == 0o600
    assert mode(os.path.join(instance, "secret_key")) == 0o600
    stored = [os.path.join(root, name) for root, _, names in os.walk(app.config["STORAGE_DIR"]) for name in names]
    assert stored and {mode(path) for path in stored} == {0o400}
    folders = [root for root, _, _ in os.walk(app.config["STORAGE_DIR"])]
    assert {mode(folder) for folder in folders} == {0o700}


# --- 10. email addresses with RFC specials ---


@pytest.mark.parametrize(
    "address", ["first,second@example.se", "a@b.se>,<c@example.se", "Anna <anna@example.se>", '"a b"@example.se']
)
def test_only_one_plain_mailbox_is_accepted(client, api_token, iop_data, address):
    """A draft may hold an unfinished address; sending refuses it."""
    iop_data["parties"][1]["contact_email"] = address
    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    response = created
    if created.status_code == 201:
        response = client.post(f"/api/agreements/{created.json['id']}/send", headers=bearer(api_token))
    assert response.status_code in (409, 422), response.json
    assert "inte en giltig e-postadress" in str(response.json)


def test_users_are_refused_an_address_list(runner):
    result = runner.invoke(args=["users", "create", "--email", "first,second@example.se", "--role", "official"])
    assert result.exit_code == 1 and "giltig e-postadress" in result.output


def test_a_stored_address_list_reaches_nobody_else(app, client, api_token, iop_data, smtp_server):
    with app.extensions["db"].session() as session:  # stored before addresses were checked
        session.add(User(email="first,second@example.se", role="official", password_hash="x"))
    with app.extensions["db"].session() as session:
        creator = session.scalar(select(User).where(User.email == "first,second@example.se"))
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, creator, Actor("system"))
        agreement_id, party = agreement.id, agreement.parties[0]
    assert mail.send_decline_notice(app, agreement, party, "Nej.") == ["first,second@example.se"]
    assert mail.send_final_failed_notice(app, agreement_id) == ["first,second@example.se"]
    assert smtp_server.recipients == []


# --- 11. links built from the Host header ---


@pytest.mark.slow
def test_links_ignore_the_host_header(app, client, iop_data, make_user, smtp_server):
    app.config["PUBLIC_URL"] = "https://avtal.region.example.se"
    user, password = make_user("official", "anna@example.se")
    with app.extensions["db"].session() as session:
        token = users.issue_api_token(session, session.get(User, user.id))
    evil = {"base_url": "http://evil.example"}
    created = client.post("/api/agreements", json=iop_data, headers=bearer(token), **evil)
    sent = client.post(f"/api/agreements/{created.json['id']}/send", headers=bearer(token), **evil)
    assert [link["url"].split("/sign/")[0] for link in sent.json["links"]] == ["https://avtal.region.example.se"] * 2

    created = client.post("/api/agreements", json=iop_data, headers=bearer(token))
    form = {"csrf_token": csrf_token(client.get("/login", **evil).get_data(as_text=True))}
    client.post("/login", data={**form, "email": "anna@example.se", "password": password}, **evil)
    overview = client.get(f"/avtal/{created.json['id']}", **evil).get_data(as_text=True)
    page = client.post(f"/avtal/{created.json['id']}/skicka", data={"csrf_token": csrf_token(overview)}, **evil)
    html = page.get_data(as_text=True)
    assert "evil.example" not in html and html.count("https://avtal.region.example.se/sign/") == 2
    assert len(smtp_server.recipients) == 2


def test_production_serving_requires_a_public_url():
    result = subprocess.run(
        ["scripts/serve", "--production"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "AVTAL_PUBLIC_URL"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "AVTAL_PUBLIC_URL" in result.stderr


# --- 2. characters that break the final PDF ---


def complete(app, client, api_token, data):
    """Send and confirm by every party, without running the final job: (agreement id, links)."""
    agreement_id, links = create_and_send(client, api_token, data)
    for link in links:
        assert confirm(client, link["url"], "Malmö").status_code == 200
    return agreement_id, links


@pytest.mark.slow
def test_stored_noncharacters_do_not_block_the_final_pdf(app, client, api_token, iop_data):
    agreement_id, _ = complete(app, client, api_token, iop_data)
    with app.extensions["db"].session() as session:  # stored before the forms refused them
        session.execute(
            update(Confirmation).values(signer_name="Anna\ufffeAndersson", place="Malm\ufffe\x0bö", signer_title="\x01")
        )
    document = assemble_final(app, agreement_id)
    assert document is not None
    text = pdf_text(app.extensions["files"].get(document.sha256))
    assert "Andersson" in text and "Verifieringsbilaga" in text


# --- 1. a party blocking the final PDF ---


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


def queued_finals(jobs):
    return [task for task in jobs.huey.pending() if task.name == "assemble_final"]


def run_queued(jobs):
    """Run what the queue holds now, as the consumer would."""
    while (task := jobs.huey.dequeue()) is not None:
        jobs.huey.execute(task)


@pytest.mark.slow
def test_a_final_pdf_that_keeps_failing_stops_and_tells_the_officials(app, make_user, iop_data, smtp_server):
    anna, token = as_user(app, make_user, "official", "anna@example.se")
    agreement_id, _ = complete(app, anna, token, iop_data)
    with app.extensions["db"].session() as session:  # data a later rule refuses: every attempt fails
        version = session.scalar(select(Version).where(Version.agreement_id == agreement_id))
        version.data = dict(version.data, notice_months=-1)
    jobs = app.extensions["jobs"]
    for _ in range(final.MAX_ATTEMPTS + 3):
        for _ in range(5):
            jobs.sweep()
        assert len(queued_finals(jobs)) <= 1
        run_queued(jobs)
    assert queued_finals(jobs) == []
    assert count(app, AuditEvent, AuditEvent.event == "final_failed") == final.MAX_ATTEMPTS
    assert smtp_server.recipients == [["anna@example.se"]]
    page = visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert "Den slutliga PDF:en kunde inte skapas efter 5 försök" in page


@pytest.mark.slow
def test_a_handlaggare_retries_a_final_pdf_that_was_given_up(app, make_user, iop_data, smtp_server):
    anna, token = as_user(app, make_user, "official", "anna@example.se")
    bertil, _ = as_user(app, make_user, "official", "bertil@example.se")
    agreement_id, _ = complete(app, anna, token, iop_data)
    with app.extensions["db"].session() as session:
        version = session.scalar(select(Version).where(Version.agreement_id == agreement_id))
        good, version.data = version.data, dict(version.data, notice_months=-1)
    jobs = app.extensions["jobs"]
    for _ in range(final.MAX_ATTEMPTS):
        jobs.sweep()
        run_queued(jobs)
    page_url, retry_url = f"/avtal/{agreement_id}", f"/avtal/{agreement_id}/slutlig/forsok-igen"
    assert "Försök igen" not in visible_text(bertil.get(page_url))  # not a handläggare
    post_on_page(bertil, page_url, retry_url)
    assert "kunde inte skapas efter 5 försök" in visible_text(anna.get(page_url))

    with app.extensions["db"].session() as session:  # the fault is mended
        session.scalar(select(Version).where(Version.agreement_id == agreement_id)).data = good
    assert post_on_page(anna, page_url, retry_url).status_code == 302
    page = visible_text(anna.get(page_url))
    assert "Den slutliga PDF:en görs nu igen" in page and "kunde inte skapas" not in page
    run_queued(jobs)
    assert count(app, FinalDocument, FinalDocument.agreement_id == agreement_id) == 1
    assert count(app, AuditEvent, AuditEvent.event == "final_retried") == 1
    again = post_on_page(anna, page_url, retry_url)  # nothing is given up any more
    assert "väntar inte på ett nytt försök" in visible_text(anna.get(again.headers["Location"]))


# --- 4, 5, 6. uploaded templates ---

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_with_xml(*paragraph_xml) -> bytes:
    """A .docx whose paragraphs are given as raw WordprocessingML (for field codes)."""
    doc = Document()
    doc.add_paragraph("{{ title }}")
    for xml in paragraph_xml:
        doc.element.body.append(parse_xml(f"<w:p {W_NS}>{xml}</w:p>"))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def complex_field(*instruction_pieces) -> str:
    """A field whose instruction is split over runs, as Word writes it after an edit."""
    runs = "".join(f'<w:r><w:instrText xml:space="preserve">{p}</w:instrText></w:r>' for p in instruction_pieces)
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        + runs
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>bild</w:t></w:r>'
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def upload_template(client, data, name="Vår mall"):
    token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
    return client.post(
        "/avtal/mallar",
        data={"csrf_token": token, "name": name, "kind": "iop", "file": (io.BytesIO(data), "mall.docx")},
        content_type="multipart/form-data",
    )


@pytest.fixture
def official_client(client, make_user):
    user, password = make_user("official", "anna@example.se")
    login(client, user.email, password)
    return client


@pytest.mark.parametrize(
    "field",
    [
        '<w:fldSimple w:instr=" includepicture &quot;http://192.0.2.1/a.png&quot; ">'
        "<w:r><w:t>x</w:t></w:r></w:fldSimple>",
        complex_field(" INCLUDE", "PICTURE ", '"http://192.0.2.1/a.png"'),
        complex_field(" Include ", '"http://192.0.2.1/a.docx"'),
        complex_field(" DDEAUTO excel ", '"C:\\\\x.xls"'),
        complex_field("{{ 'INCLUDE' ~ 'PICTURE' }} ", '"http://192.0.2.1/a.png"'),
    ],
)
def test_fetching_field_codes_are_refused_however_written(app, official_client, field):
    response = upload_template(official_client, docx_with_xml(field))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "fältkod" in page and "Tekniskt fel" not in page
    assert count(app, CustomTemplate) == 0


@pytest.mark.parametrize("name", ["cycler", "joiner", "lipsum", "namespace", "self", "dict"])
def test_jinja_globals_the_templates_do_not_need_are_unknown(official_client, name):
    response = upload_template(official_client, docx_with(f"{{{{ title }}}} {{{{ {name} }}}}"))
    assert response.status_code == 400
    assert f"känner till: {name}" in response.get_data(as_text=True)


def draft_with_template(app, client, template: bytes, iop_data) -> int:
    """A draft filled by `template`, stored as a template uploaded before today's checks."""
    with app.extensions["db"].session() as session:
        row = CustomTemplate(
            name="Gammal mall", kind="iop", sha256=app.extensions["files"].put(template), variables=["title"]
        )
        session.add(row)
        session.flush()
        template_id = row.id
    form_url = f"/avtal/ny?typ=iop&mall={template_id}"
    token = csrf_token(client.get(form_url).get_data(as_text=True))
    saved = client.post(form_url, data={**forms.to_form(iop_data), "csrf_token": token, "action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    return int(saved.headers["Location"].rsplit("/", 1)[1])


def test_a_field_code_made_by_the_fill_never_reaches_libreoffice(app, official_client, iop_data):
    template = docx_with_xml(complex_field("{{ 'INCLUDE' ~ 'PICTURE' }} ", '"http://192.0.2.1/a.png"'))
    agreement_id = draft_with_template(app, official_client, template, iop_data)
    conversions = [proc.conversions for proc in app.extensions["office"].processes()]
    response = official_client.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert response.status_code == 503
    assert "fältkoder som hämtar andra filer (INCLUDEPICTURE)" in response.get_data(as_text=True)
    assert [proc.conversions for proc in app.extensions["office"].processes()] == conversions


@pytest.mark.slow  # fills in worker processes that start LibreOffice
@pytest.mark.parametrize(
    "body, message",
    [
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% if a == b == -1 %}x{% endif %}"
            "{% endfor %}{% endfor %}",
            "tog för lång tid",
        ),
        ("{{ title * 2000000 }}", "blev för stort"),
        ("{% for i in range(1000000) %}{{ i }}{% endfor %}", "blev för stort"),
    ],
)
def test_templates_that_burn_cpu_or_memory_get_a_swedish_error(app, official_client, iop_data, body, message):
    agreement_id = draft_with_template(app, official_client, docx_with(body), iop_data)
    response = official_client.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert message in page and "Tekniskt fel" not in page


@pytest.mark.slow
def test_libreoffice_runs_within_a_memory_limit(office):
    office.start()
    pid = office.processes()[0].soffice_pid()
    with open(f"/proc/{pid}/limits") as f:
        limit = next(line for line in f if line.startswith("Max address space")).split()[3]
    assert int(limit) == 2048 * 1024 * 1024


def zip_bomb(member_mb: int) -> bytes:
    """A valid template plus one member of `member_mb` MB of zeros, compressed to about 1/1000."""
    out = io.BytesIO(docx_with("{{ title }}"))
    with (
        zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("word/media/bomb.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(member_mb):
            member.write(bytes(1024 * 1024))
    return out.getvalue()


def test_a_zip_bomb_is_refused_from_its_directory(app, official_client):
    bomb = zip_bomb(300)
    assert len(bomb) < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = upload_template(official_client, bomb)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert response.status_code == 400
    assert "blir för stor uppackad" in response.get_data(as_text=True)
    assert grown_mb < 100  # reading the member would have taken 300 MB


def test_a_zip_of_many_members_is_refused(official_client):
    out = io.BytesIO(docx_with("{{ title }}"))
    with zipfile.ZipFile(out, "a") as archive:
        for i in range(600):
            archive.writestr(f"customXml/part{i}.xml", "<a/>")
    response = upload_template(official_client, out.getvalue())
    assert response.status_code == 400 and "för många delar" in response.get_data(as_text=True)


# --- 14. handläggare per agreement ---


def as_user(app, make_user, role, email):
    """A logged-in test client of its own, and an API token, for a new user."""
    user, password = make_user(role, email)
    browser = app.test_client()
    login(browser, email, password)
    with app.extensions["db"].session() as session:
        token = users.issue_api_token(session, session.get(User, user.id))
    return browser, token


def post_on_page(browser, page_url, action_url, **form):
    token = csrf_token(browser.get(page_url).get_data(as_text=True))
    return browser.post(action_url, data={"csrf_token": token, **form})


@pytest.mark.slow
def test_only_handlaggare_and_admins_change_an_agreement_or_issue_links(app, make_user, iop_data):
    anna, anna_token = as_user(app, make_user, "official", "anna@example.se")
    bertil, bertil_token = as_user(app, make_user, "official", "bertil@example.se")
    admin, _ = as_user(app, make_user, "admin", "admin@example.se")
    agreement_id, _ = create_and_send(anna, anna_token, iop_data)
    page = f"/avtal/{agreement_id}"
    with app.extensions["db"].session() as session:
        party_id = session.get(Agreement, agreement_id).parties[1].id
    reissue = f"{page}/parter/{party_id}/ny-lank"
    links_before = count(app, SigningLink)

    overview = bertil.get(page)  # another official reads, and is told why he cannot act
    assert overview.status_code == 200 and "Bara dess handläggare och administratörer" in visible_text(overview)
    refused = post_on_page(bertil, page, reissue)
    assert "Bara avtalets handläggare" in visible_text(bertil.get(refused.headers["Location"]))
    assert bertil.get(f"{page}/redigera").status_code == 403
    api = bertil.post(f"/api/agreements/{agreement_id}/send", headers=bearer(bertil_token))
    assert api.status_code == 403 and "handläggare" in api.json["message"]
    assert count(app, SigningLink) == links_before

    added = post_on_page(anna, page, f"{page}/handlaggare", email="bertil@example.se")
    assert "bertil@example.se är nu handläggare" in visible_text(anna.get(added.headers["Location"]))
    links_page = post_on_page(bertil, page, reissue)
    assert links_page.status_code == 200 and "/sign/" in links_page.get_data(as_text=True)
    shown = visible_text(anna.get(page))
    assert "Länken skickades av bertil@example.se" in shown
    assert "Handläggare anna@example.se, bertil@example.se" in shown
    assert post_on_page(admin, page, reissue).status_code == 200
    assert count(app, SigningLink) == links_before + 2


# --- 13. previews out of the permanent store; 7. only the agreement's own preview ---


def preview_key(browser, agreement_id) -> str:
    page = browser.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.search(r"/forhandsgranska/([0-9a-f]{64})/1\.png", page.get_data(as_text=True)).group(1)


@pytest.mark.slow
def test_previews_are_cached_not_stored(app, office, make_user, iop_data):
    anna, token = as_user(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    files_before, conversions = stored_files(app), office.processes()[0].conversions
    first = preview_key(anna, agreement_id)
    assert preview_key(anna, agreement_id) == first  # unchanged draft: the same preview, not converted again
    assert office.processes()[0].conversions == conversions + 1
    assert stored_files(app) == files_before  # nothing in the permanent store

    app.extensions["previews"].max_files = 2
    for number in range(3):
        other = anna.post("/api/agreements", json=dict(iop_data, title=f"Avtal {number}"), headers=bearer(token))
        preview_key(anna, other.json["id"])
    assert len(list(Path(app.config["PREVIEW_DIR"]).glob("*.pdf"))) == 2


@pytest.mark.slow
def test_the_preview_route_serves_only_the_agreements_own_preview(app, make_user, iop_data, run_jobs):
    anna, token = as_user(app, make_user, "official", "anna@example.se")
    mine = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    key = preview_key(anna, mine)
    assert anna.get(f"/avtal/{mine}/forhandsgranska/{key}.pdf").status_code == 200
    other, links = create_and_send(anna, token, iop_data)
    for link in links:
        confirm(anna, link["url"], "Malmö")
    final_pdf(app, anna, token, other)
    with app.extensions["db"].session() as session:
        stored = [session.get(Agreement, other).final_documents[0].sha256, session.get(Agreement, other).data_sha256]
    for sha in [*stored, key]:
        assert anna.get(f"/avtal/99999/forhandsgranska/{sha}.pdf").status_code == 404
        assert anna.get(f"/avtal/{other}/forhandsgranska/{sha}.pdf").status_code == 404
        assert anna.get(f"/avtal/{other}/forhandsgranska/{sha}/1.png").status_code == 404


@pytest.mark.slow
def test_a_partys_download_of_the_frozen_pdf_is_audited_once_a_day(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    for _ in range(5):
        response = client.get(path_of(links[0]["url"]) + "/avtal.pdf")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert count(app, AuditEvent, AuditEvent.event == "downloaded") == 1
