"""The threat model's second round (issue "Security, round two"): each test is what an
attacker with a link, an official's account or a template tried, and what they now see."""

import os
import stat

import pytest

from service import create_app
from service import migrate as migrations

from .conftest import csrf_token, login
from .test_signing import bearer, confirm, create_and_send, final_pdf


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


def test_hsts_when_cookies_are_secure(tmp_path, office, monkeypatch):
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "secure"))
    monkeypatch.setenv("AVTAL_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True}, office=office)
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
