"""Hostile input: refused with a Swedish message or shown literally, never a 500, nothing changed."""

import io
import json
import unicodedata

import pytest
import schemathesis
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service import signing
from service.documents.fill import fill_agreement
from service.models import Agreement, Confirmation, SigningLink
from service.schema import SchemaError, validate_agreement

from .helpers import bearer, count, create_and_send, flat, load_example, path_of, pdf_text

SWEDISH_HINTS = (
    "måste",
    "får",
    "ogiltig",
    "otillåtna",
    "fel",
    "tillåtet",
    "okänt",
    "typ",
    "minst",
    "högst",
    "osynliga",
)
HOSTILE = st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
    | st.sampled_from(["<", ">", "&", "{{", "}}", "{%", "%}", "]]>", "\u202e", "\u200f", "\x00", "\x1b", "\ufeff"]),
    max_size=12,
).map("".join)
IOP = load_example("iop-skane-2021.json")


def visible(text):
    """What a reader sees: format characters (bidi marks, BOM) and spacing differences aside."""
    return flat("".join(ch for ch in text if unicodedata.category(ch) != "Cf"))


@settings(max_examples=150, deadline=None)
@given(title=HOSTILE, description=HOSTILE)
def test_any_text_is_refused_in_swedish_or_filled_literally(title, description):
    data = json.loads(json.dumps(IOP))
    data["title"], data["parties"][0]["description"] = title, description
    try:
        agreement = validate_agreement(data)
    except SchemaError as exc:
        assert all(any(h in msg for h in SWEDISH_HINTS) for msg in exc.errors.values()), exc.errors
        return
    doc = Document(io.BytesIO(fill_agreement(agreement)))  # a corrupt .docx would not open
    body = flat(" ".join(p.text for p in doc.paragraphs))
    assert flat(agreement.title) in body
    assert flat(agreement.parties[0].description) in body


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "Avtal med \u200fmärken \u200efrån höger",
        "<w:p>{{ 7*7 }}</w:p> & {% raw %}",
        "Tecken «citat» „så“ ’ – — … § ½ € ≥ Ø æ ü ß é",
        "Tab\tmellan ord",
    ],
)
def test_strange_text_reaches_the_pdf_literally(app, office, text):
    data = json.loads(json.dumps(IOP))
    data["title"] = text
    pdf = office.convert(fill_agreement(validate_agreement(data)))
    assert visible(text).replace("\t", " ") in visible(pdf_text(pdf))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_api_never_fails_on_hostile_fields(client, api_token, value):
    data = json.loads(json.dumps(IOP))
    data["parties"][1]["name"] = value
    data["registration_number"] = value
    response = client.post("/api/agreements", json=data, headers=bearer(api_token))
    assert response.status_code in (201, 422), response.data
    assert response.is_json and response.json.get("message") or response.json.get("id")


def test_oversized_bodies_are_refused_with_413(app, client, api_token):
    big = b'{"kind": "iop", "title": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    response = client.post("/api/agreements", data=big, content_type="application/json", headers=bearer(api_token))
    assert response.status_code == 413 and "för stor" in response.json["message"]
    page = client.post("/login", data={"email": "x" * (6 * 1024 * 1024)})
    assert page.status_code == 413 and "för stort" in page.get_data(as_text=True)
    assert count(app, Agreement) == 0


def tokens_of(client, api_token, data):
    agreement_id, links = create_and_send(client, api_token, data)
    return agreement_id, [path_of(link["url"])[len("/sign/") :] for link in links]


@pytest.mark.slow
def test_forged_tokens_are_all_refused(app, client, api_token, iop_data, halland_data):
    _, (token_a, token_b) = tokens_of(client, api_token, iop_data)
    _, other_agreement = tokens_of(client, api_token, halland_data)
    right = signing.link_serializer(app.config["SECRET_KEY"])
    payload_a, payload_b = right.loads(token_a), right.loads(token_b)
    forged = [
        right.dumps(dict(payload_b, n=payload_a["n"])),  # another party's link with my nonce
        right.dumps(dict(payload_a, l=right.loads(other_agreement[0])["l"])),  # another agreement's link
        right.dumps(dict(payload_a, h="0" * 16)),  # bound to another text
        URLSafeSerializer(app.config["SECRET_KEY"], salt="cookie-session").dumps(payload_a),  # other purpose
        URLSafeSerializer(app.config["SECRET_KEY"]).dumps(payload_a),  # itsdangerous' default salt
        URLSafeSerializer("another key", salt=signing.LINK_SALT).dumps(payload_a),  # re-signed elsewhere
        token_a[:-1],  # truncated
        token_a[: len(token_a) // 2],
        right.dumps({"l": "1 OR 1=1", "n": payload_a["n"], "h": payload_a["h"]}),
        right.dumps(["not", "a", "dict"]),
    ]
    for token in forged:
        page = client.get(f"/sign/{token}")
        assert page.status_code == 404, token
        assert "Ogiltig länk" in page.get_data(as_text=True)
        posted = client.post(f"/sign/{token}/bekrafta", data={"place": "X", "signer_name": "X", "accept": "ja"})
        assert posted.status_code in (400, 404)
        assert client.get(f"/sign/{token}/avtal.pdf").status_code == 404
    assert count(app, Confirmation) == 0
    assert count(app, SigningLink, SigningLink.used_at.is_not(None)) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/sign/..%2f..%2fetc%2fpasswd",
        "/sign/x/sida/..%2f..%2fsecret_key.png",
        "/static/..%2f..%2finstance%2fsecret_key",
        "/static/../service/config.py",
        "/api/agreements/1/../../../etc/passwd",
        "/sign/%2e%2e/%2e%2e/instance/avtal.sqlite3",
    ],
)
def test_path_traversal_finds_nothing(app, client, path):
    response = client.get(path)
    assert response.status_code in (404, 405, 308)
    body = response.get_data()
    assert app.config["SECRET_KEY"].encode() not in body and b"SQLite format" not in body
    assert b"root:" not in body


@pytest.mark.slow
def test_a_party_link_reaches_nothing_but_its_own_page(app, client, api_token, iop_data):
    agreement_id, (token, _) = tokens_of(client, api_token, iop_data)
    assert client.get(f"/sign/{token}").status_code == 200
    for path in ("/", "/avtal", "/arkiv", f"/avtal/{agreement_id}", f"/arkiv/{agreement_id}"):
        response = client.get(path)
        assert response.status_code in (302, 404) and (
            response.status_code == 404 or "/login" in response.headers["Location"]
        ), path
    for path in (f"/api/agreements/{agreement_id}", f"/api/agreements/{agreement_id}/final.pdf"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401


DESCRIBED = [status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_fuzzed_from_its_openapi_description(app, api_token):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def no_server_error(case):
            response = case.call(headers=bearer(api_token))
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response, checks=DESCRIBED)  # status, content type and body as documented
            if response.status_code >= 400:  # a problem document (its content type checked above), in Swedish
                assert response.json()["code"] and response.json()["detail"]

        no_server_error()
