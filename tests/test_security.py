import os
import subprocess

import pytest
from flask import request

from service import create_app, users
from service import migrate as migrations
from service.models import User
from service.web.auth import login_required

from .helpers import ROOT, bearer, confirm, create_and_send, csrf_token, final_pdf, login

CSRF_MESSAGE = "Formuläret har gått ut. Ladda om sidan och försök igen."


@pytest.fixture
def official_only(app):
    """A route only officials may open, as the drafting pages will be."""
    app.add_url_rule("/bara-handlaggare", "official_only", login_required("official")(lambda: "Handläggarsida"))


def test_login_without_csrf_token_is_refused_and_logs_nobody_in(client, make_user):
    _, password = make_user("official", "anna@example.se")
    response = client.post("/login", data={"email": "anna@example.se", "password": password})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_keeps_the_user_logged_in(client, make_user):
    _, password = make_user("official", "anna@example.se")
    login(client, "anna@example.se", password)
    response = client.post("/logout")
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert "anna@example.se" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_a_token_from_another_session_is_refused(app, make_user):
    _, password = make_user("official", "anna@example.se")
    token = csrf_token(app.test_client().get("/login").get_data(as_text=True))
    other = app.test_client()
    response = other.post("/login", data={"csrf_token": token, "email": "anna@example.se", "password": password})
    assert response.status_code == 400


def test_api_is_exempt_from_csrf(app, client):
    app.add_url_rule("/api/prov", "api.prov", lambda: {"ok": True}, methods=["POST"])
    response = client.post("/api/prov", json={})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/finns-inte").headers["X-Frame-Options"] == "DENY"


def test_logged_in_pages_are_not_cached(client, make_user):
    _, password = make_user("archivist", "arkiv@example.se")
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    login(client, "arkiv@example.se", password)
    assert client.get("/arkiv").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")


def test_pages_have_no_inline_script_or_style(client, make_user):
    _, password = make_user("official", "anna@example.se")
    for page in (client.get("/login"), login(client, "anna@example.se", password, follow_redirects=True)):
        html = page.get_data(as_text=True)
        assert "<script>" not in html and "<script src=" in html
        assert "style=" not in html and "<style" not in html


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    _, password = make_user("official", "anna@example.se")
    cookie = login(client, "anna@example.se", password).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_configured(tmp_path, office_pool, monkeypatch):
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "secure"))
    monkeypatch.setenv("AVTAL_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True}, office=office_pool)
    migrations.upgrade(app.extensions["db"])
    assert "Secure" in app.test_client().get("/login", base_url="https://localhost").headers["Set-Cookie"]


def test_404_is_a_swedish_page(client):
    response = client.get("/finns-inte")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Sidan finns inte" in page
    assert '<html lang="sv">' in page


def test_api_errors_are_problem_documents_in_swedish(client):
    response = client.get("/api/finns-inte")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "not-found"
    assert response.get_json()["detail"] == "Sidan du söker finns inte. Kontrollera adressen eller gå till startsidan."


def test_405_keeps_the_allow_header(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "Sidan kan inte användas på det här sättet." in response.get_data(as_text=True)
    assert "POST" in response.headers["Allow"]


def test_too_large_form_is_refused_in_swedish(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    app.add_url_rule("/api/prov", "api.prov", lambda: request.get_json(), methods=["POST"])
    response = client.post("/login", data={"email": "x" * 2000})
    assert response.status_code == 413
    assert "Filen eller formuläret är för stort." in response.get_data(as_text=True)
    response = client.post("/api/prov", json={"text": "x" * 2000})
    assert response.status_code == 413
    assert response.get_json()["code"] == "too-large"
    assert response.get_json()["detail"] == "Filen eller formuläret är för stort."


def test_server_error_is_a_swedish_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/trasig", "broken", broken)
    app.add_url_rule("/api/trasig", "api.broken", broken)
    response = client.get("/trasig")
    assert response.status_code == 500
    assert "Något gick fel hos oss." in response.get_data(as_text=True)
    assert "boom" not in response.get_data(as_text=True)
    response = client.get("/api/trasig")
    assert response.status_code == 500
    assert response.get_json()["code"] == "error"
    assert response.get_json()["detail"].startswith("Något gick fel hos oss.")


def test_wrong_role_gets_a_swedish_403(client, make_user, official_only):
    _, password = make_user("archivist", "arkiv@example.se")
    login(client, "arkiv@example.se", password)
    response = client.get("/bara-handlaggare")
    assert response.status_code == 403
    assert "Du har inte behörighet att se den här sidan." in response.get_data(as_text=True)


def test_right_role_gets_the_page(client, make_user, official_only):
    _, password = make_user("official", "anna@example.se")
    login(client, "anna@example.se", password)
    assert client.get("/bara-handlaggare").get_data(as_text=True) == "Handläggarsida"


def test_anonymous_user_is_sent_to_login(client, official_only):
    response = client.get("/bara-handlaggare?flik=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/bara-handlaggare?flik%3D2"


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
    login(client, "anna@example.se", password, **evil)
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
