"""The JSON API's contract: authentication, roles, errors as problem documents with Swedish texts."""

import hashlib
import http.client
import os
import re
import subprocess
import threading
import time

import pytest
from sqlalchemy import select

from service import final, webhooks
from service.models import Agreement, IdempotencyKey, Version
from service.web import openapi, problems

from .helpers import (
    ROOT,
    assemble_final,
    bearer,
    confirm,
    count,
    create_and_send,
    free_port,
    path_of,
    problem_fields,
    wait_for,
)


def test_missing_or_wrong_token_is_401_with_a_problem_document(client, iop_data):
    challenges = {"": "Bearer", "Bearer nope": 'Bearer error="invalid_token"', "Basic abc": "Bearer"}
    for authorization, challenge in challenges.items():
        response = client.post("/api/agreements", json=iop_data, headers={"Authorization": authorization})
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == challenge
        assert response.mimetype == "application/problem+json"
        assert response.json == {
            "type": "urn:avtalstjansten:problem:unauthenticated",
            "code": "unauthenticated",
            "title": "Inloggning krävs",
            "status": 401,
            "detail": "Ogiltig eller saknad API-nyckel.",
            "message": "Ogiltig eller saknad API-nyckel.",
        }


def test_archivist_token_cannot_create(app, client, runner, iop_data):
    result = runner.invoke(args=["users", "create", "--email", "ark@example.se", "--role", "archivist"])
    token = result.output.strip().splitlines()[-1].split()[-1]
    response = client.post("/api/agreements", json=iop_data, headers=bearer(token))
    assert response.status_code == 403 and response.json["code"] == "not-allowed" and "roll" in response.json["detail"]
    assert count(app, Agreement) == 0


def test_unfinished_draft_is_stored_and_sending_lists_what_is_missing(app, client, api_token, iop_data):
    iop_data["period"]["end"] = "2020-01-01"
    iop_data["parties"][1]["org_number"] = "1"
    iop_data["parties"][0]["org_number"] = ""
    response = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert response.status_code == 201
    missing = response.json["missing"]
    assert missing["parties.1.org_number"] == "Part 2: Organisationsnummer ska ha tio siffror (NNNNNN-NNNN)"
    assert missing["parties.0.org_number"] == "Part 1: Organisationsnummer måste fyllas i"
    assert "slutdatum" in missing["period"]
    sent = client.post(f"/api/agreements/{response.json['id']}/send", headers=bearer(api_token))
    assert sent.status_code == 422 and sent.json["code"] == "invalid-input"
    assert sent.json["errors"] == [
        {"pointer": "#/" + field.replace(".", "/"), "message": message} for field, message in missing.items()
    ]
    assert client.get(f"/api/agreements/{response.json['id']}", headers=bearer(api_token)).json["status"] == "draft"


def test_data_that_can_never_be_stored_gives_422(app, client, api_token, iop_data):
    iop_data["title"] = "x" * 301
    iop_data["unknown"] = 1
    response = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert response.status_code == 422 and response.json["code"] == "invalid-input"
    errors = problem_fields(response)
    assert errors["#/title"] == "Titel får vara högst 300 tecken"
    assert errors["#/unknown"] == "unknown är ett okänt fält"
    assert count(app, Agreement) == 0


def test_not_json_is_400(client, api_token):
    response = client.post("/api/agreements", data="kind=iop", headers=bearer(api_token))
    assert response.status_code == 400 and response.json["code"] == "bad-request"
    assert response.json["detail"] == "Förfrågan måste vara ett JSON-objekt."


def test_unknown_agreement_is_404(client, api_token):
    response = client.get("/api/agreements/999", headers=bearer(api_token))
    assert response.status_code == 404 and response.json["code"] == "not-found"
    assert response.json["detail"] == "Det finns inget avtal med nummer 999."
    unknown_path = client.get("/api/avtal", headers=bearer(api_token))
    assert unknown_path.status_code == 404 and unknown_path.mimetype == "application/problem+json"
    assert unknown_path.json["code"] == "not-found"


@pytest.mark.slow
def test_status_of_a_sent_agreement(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "sent" and status["version"] == 1
    assert [p["status"] for p in status["parties"]] == ["pending", "pending"]
    assert all(link["url"].startswith(app.config["PUBLIC_URL"] + "/sign/") for link in links)


@pytest.mark.slow
def test_final_pdf_before_completion_is_404(client, api_token, iop_data):
    agreement_id, _ = create_and_send(client, api_token, iop_data)
    response = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
    assert response.status_code == 404 and "ingen slutlig PDF" in response.json["detail"]


@pytest.mark.slow
def test_accession_only_for_overenskommelse(client, api_token, iop_data):
    agreement_id, _ = create_and_send(client, api_token, iop_data)
    response = client.post(
        f"/api/agreements/{agreement_id}/parties", json=iop_data["parties"][0], headers=bearer(api_token)
    )
    assert response.status_code == 409 and response.json["code"] == "conflict"
    assert "överenskommelse" in response.json["detail"]


def test_openapi_description(app, client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, operations in doc["paths"].items() for method in operations}
    served = {
        (re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described == served  # every operation the API serves is described, and nothing else
    posts = [op for operations in doc["paths"].values() for method, op in operations.items() if method == "post"]
    assert all(any(p["name"] == "Idempotency-Key" for p in op["parameters"]) for op in posts)
    assert set(doc["paths"]) == {
        "/api/agreements",
        "/api/agreements/{agreement_id}",
        "/api/agreements/{agreement_id}/send",
        "/api/agreements/{agreement_id}/parties",
        "/api/agreements/{agreement_id}/accessions/{accession_id}",
        "/api/agreements/{agreement_id}/final.pdf",
        "/api/agreements/{agreement_id}/joined",
        "/api/agreements/{agreement_id}/records/{number}.pdf",
        "/api/agreements/{agreement_id}/register.{ending}",
    }
    assert "IopAgreement" in doc["components"]["schemas"] and "Party" in doc["components"]["schemas"]
    assert "$defs" not in str(doc)


def test_openapi_description_is_what_client_generators_need(client):
    doc = client.get("/api/openapi.json").json
    assert doc["info"]["title"].isascii() and doc["info"]["x-package-name"].isidentifier()
    operations = [op for operations in doc["paths"].values() for op in operations.values()]
    assert sorted(op["operationId"] for op in operations) == [
        "addParties",
        "createAgreement",
        "downloadAccessionRecord",
        "downloadFinalPdf",
        "downloadRegister",
        "getAccession",
        "getAgreement",
        "listAgreements",
        "listJoined",
        "sendAgreement",
    ]
    declared_tags = {tag["name"] for tag in doc["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in declared_tags for op in operations)

    final_pdf = doc["paths"]["/api/agreements/{agreement_id}/final.pdf"]["get"]["responses"]
    assert final_pdf["200"]["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert "406" in final_pdf and "Retry-After" in final_pdf["409"]["headers"]
    errors = [answer for op in operations for status, answer in op["responses"].items() if status >= "400"]
    assert all(list(answer["content"]) == ["application/problem+json"] for answer in errors)
    assert all("WWW-Authenticate" in op["responses"]["401"]["headers"] for op in operations)

    party_kind = doc["components"]["schemas"]["Party"]["properties"]["kind"]
    assert party_kind["enum"] == ["offentlig", "idéburen"]  # the data stays Swedish
    assert party_kind["x-enum-varnames"] == ["OFFENTLIG", "IDEBUREN"]
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "webhookSignature"}

    assert set(doc["webhooks"]) == set(webhooks.TYPE_LABELS)
    declined = doc["webhooks"]["agreement.declined"]["post"]["requestBody"]["content"]["application/json"]
    assert declined["example"]["type"] == "agreement.declined" and declined["example"]["data"]["reason"]
    assert declined["schema"]["properties"]["data"]["required"] == ["agreement", "party", "reason", "at"]


def test_a_route_without_an_openapi_declaration_is_refused(app):
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and not hasattr(app.view_functions[rule.endpoint], "openapi")
    ]
    assert undeclared == []
    app.add_url_rule(
        "/api/agreements/<int:agreement_id>/extra", endpoint="api.extra", view_func=lambda agreement_id: ""
    )
    with pytest.raises(LookupError, match="api.extra"):
        openapi.document(app, "api")


@pytest.mark.slow
def test_final_is_null_and_final_pdf_409_until_the_job_has_made_it(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "completed" and status["final"] is None  # no consumer ran yet

    waiting = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
    assert waiting.status_code == 409 and waiting.headers["Retry-After"] == "2"
    assert waiting.json["code"] == "final-pending"
    assert waiting.json["detail"] == "Den slutliga PDF:en görs just nu. Försök igen om några sekunder."

    extensions = app.extensions
    for _ in range(final.MAX_ATTEMPTS):
        final.record_failure(extensions["db"], agreement_id, RuntimeError("LibreOffice"))
    given_up = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
    assert given_up.status_code == 503 and "Retry-After" not in given_up.headers
    assert given_up.json["code"] == "unavailable"
    assert given_up.json["detail"].startswith("Den slutliga PDF:en kunde inte skapas efter 5 försök")

    assemble_final(app, agreement_id)
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    pdf = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    as_json = client.get(
        f"/api/agreements/{agreement_id}/final.pdf", headers={**bearer(api_token), "Accept": "application/json"}
    )
    assert as_json.status_code == 406 and as_json.mimetype == "application/problem+json"
    assert as_json.json["code"] == "not-acceptable" and "application/pdf" in as_json.json["detail"]
    assert status["final"] == {
        "number": 1,
        "sha256": hashlib.sha256(pdf.data).hexdigest(),
        "url": f"{app.config['PUBLIC_URL']}/api/agreements/{agreement_id}/final.pdf",
    }


def test_a_retried_create_with_the_same_idempotency_key_creates_once(app, client, api_token, iop_data):
    headers = {**bearer(api_token), "Idempotency-Key": "crm-4711"}
    first = client.post("/api/agreements", json=iop_data, headers=headers)
    again = client.post("/api/agreements", json=iop_data, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert count(app, Agreement) == 1

    other = client.post("/api/agreements", json={**iop_data, "title": "Ett annat avtal"}, headers=headers)
    assert other.status_code == 422 and other.json["code"] == "invalid-input"
    assert other.json["detail"] == "Idempotency-Key har redan använts för en annan förfrågan. Använd en ny nyckel."
    assert count(app, Agreement) == 1

    fresh = client.post("/api/agreements", json=iop_data, headers={**bearer(api_token), "Idempotency-Key": "crm-4712"})
    assert fresh.status_code == 201 and fresh.json["id"] != first.json["id"]

    too_long = client.post(
        "/api/agreements", json=iop_data, headers={**bearer(api_token), "Idempotency-Key": "x" * 256}
    )
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.json["detail"]
    assert count(app, Agreement) == 2


@pytest.mark.slow
def test_a_retried_send_gives_the_same_links_and_stores_none_readable(app, client, api_token, iop_data):
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    headers = {**bearer(api_token), "Idempotency-Key": "send-1"}
    first = client.post(f"/api/agreements/{agreement_id}/send", headers=headers)
    again = client.post(f"/api/agreements/{agreement_id}/send", headers=headers)
    assert first.status_code == again.status_code == 200 and again.json == first.json
    assert count(app, Version, Version.agreement_id == agreement_id) == 1
    assert confirm(client, again.json["links"][0]["url"], "Kristianstad").status_code == 200

    with app.extensions["db"].session() as session:
        stored = session.scalars(select(IdempotencyKey.response)).one()
    token = path_of(first.json["links"][0]["url"]).rsplit("/", 1)[1]
    assert token.encode() not in stored and b"/sign/" not in stored


def test_a_refusal_is_kept_for_the_key_too(app, client, api_token, iop_data):
    iop_data["kind"] = "okänd"
    headers = {**bearer(api_token), "Idempotency-Key": "bad-1"}
    first = client.post("/api/agreements", json=iop_data, headers=headers)
    again = client.post("/api/agreements", json=iop_data, headers=headers)
    assert first.status_code == again.status_code == 422 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true" and count(app, Agreement) == 0
    assert again.mimetype == first.mimetype == "application/problem+json"


@pytest.mark.slow
def test_a_retry_while_the_first_request_runs_is_told_to_wait(app, client, api_token, iop_data):
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    headers = {**bearer(api_token), "Idempotency-Key": "send-slow"}
    first = []
    thread = threading.Thread(
        target=lambda: first.append(app.test_client().post(f"/api/agreements/{agreement_id}/send", headers=headers))
    )
    thread.start()  # LibreOffice renders the PDF meanwhile
    wait_for(lambda: count(app, IdempotencyKey, IdempotencyKey.status_code.is_(None)) == 1, seconds=30)
    meanwhile = client.post(f"/api/agreements/{agreement_id}/send", headers=headers)
    thread.join()
    assert meanwhile.status_code == 409 and meanwhile.headers["Retry-After"] == "1"
    assert meanwhile.json["code"] == "conflict"
    assert meanwhile.json["detail"] == "En förfrågan med samma Idempotency-Key pågår redan. Försök igen om en stund."
    after = client.post(f"/api/agreements/{agreement_id}/send", headers=headers)
    assert first[0].status_code == after.status_code == 200 and after.json == first[0].json
    assert count(app, Version, Version.agreement_id == agreement_id) == 1


def gunicorn(port):
    """The service as scripts/serve runs it (threads, so connections are kept alive; keepalive from
    gunicorn.conf.py in the folder it starts in), its jobs left to a worker that is not started:
    a completed agreement's final PDF stays pending."""
    command = [ROOT / ".venv/bin/gunicorn", "--bind", f"127.0.0.1:{port}", "--threads", "4", "service.wsgi:app"]
    env = dict(os.environ, AVTAL_WEB_RUNS_JOBS="0")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_polling_final_pdf_as_advised_keeps_one_connection(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    port = free_port()
    server = gunicorn(port)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:

        def answering():
            try:
                connection.request("GET", "/api/openapi.json")
                return connection.getresponse().read() is not None
            except OSError:
                connection.close()
                return False

        wait_for(answering, seconds=60)
        address = connection.sock.getsockname()
        polls = []
        while True:
            connection.request("GET", f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
            response = connection.getresponse()
            response.read()
            assert connection.sock is not None and connection.sock.getsockname() == address  # the same connection
            polls.append(response.status)
            if response.status != 409:
                break
            if len(polls) == 3:
                assemble_final(app, agreement_id)  # the job, while the client waits
            time.sleep(int(response.headers["Retry-After"]) + 0.5)  # as advised, and a little more
    finally:
        connection.close()
        server.terminate()
        server.wait()
    assert polls == [409, 409, 409, 200]


def test_the_readme_documents_every_problem_code_and_webhook_event():
    readme = (ROOT / "README.md").read_text()
    api = readme[readme.index("## The API for integrations") : readme.index("## Webhooks")]
    hooks = readme[readme.index("## Webhooks") : readme.index("## Security")]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", api, re.MULTILINE))
    assert {code: problems.STATUS[code] for code in rows} == {code: int(status) for code, status in rows.items()}
    assert {"not-found", "conflict", "invalid-input", "not-allowed", "final-pending", "not-acceptable"} <= set(rows)
    assert re.findall(r"^\| `([a-z]+\.[a-z]+)` \|", hooks, re.MULTILINE) == [kind.name for kind in webhooks.EVENTS]


@pytest.mark.parametrize("body", [b"[" * 100000, b'{"a":' * 50000, b'{"title": ' + b"[" * 40 + b"]" * 40 + b"}"])
def test_deeply_nested_json_gets_a_swedish_400(client, api_token, body):
    response = client.post("/api/agreements", data=body, content_type="application/json", headers=bearer(api_token))
    assert response.status_code == 400
    assert "nästlat" in response.get_json()["message"]


def test_brackets_inside_strings_do_not_count_as_nesting(client, api_token, iop_data):
    iop_data["title"] = "[[[[[[[[[[" * 5 + "{{{{" * 10
    response = client.post("/api/agreements", json=iop_data, headers=bearer(api_token))
    assert response.status_code == 201, response.json


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
