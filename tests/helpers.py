"""Helpers the test modules share: import them from here, never from another test module."""

import io
import re
import socket
from html import unescape

from docx import Document
from sqlalchemy import func, select

from service.schema import luhn_ok

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count(app, model, *where) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email, password, follow_redirects=False):
    """Log in through the real login form, CSRF token included."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password},
        follow_redirects=follow_redirects,
    )


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


def decline(client, url, reason):
    """Decline through the party's page; returns the response."""
    page = client.get(path_of(url))
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), "reason": reason}
    return client.post(path_of(url) + "/avboj", data=form)


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
