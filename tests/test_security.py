import pytest
from flask import request

from service import create_app
from service import migrate as migrations
from service.web.auth import login_required

from .helpers import csrf_token, login

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
