import re
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from service import create_app, users
from service.limits import RateLimit
from service.models import ApiToken, AuditEvent, User

from .helpers import confirm, create_and_send, csrf_token, login


def test_login_shows_the_users_start_page(client, make_user):
    user, password = make_user("official", "anna@example.se")
    response = login(client, "Anna@Example.se ", password, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Avtal</h1>" in page  # an official starts at the list of agreements
    assert "anna@example.se" in page
    assert "(handläggare)" in page


def test_wrong_password_is_refused_in_swedish(client, make_user):
    make_user("official", "anna@example.se")
    response = login(client, "anna@example.se", "fel-lösenord")
    assert "Fel e-postadress eller lösenord." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in


def test_unknown_email_gets_the_same_message(client):
    response = login(client, "ingen@example.se", "vad-som-helst")
    assert "Fel e-postadress eller lösenord." in response.get_data(as_text=True)


def test_empty_fields_are_marked_on_the_field(client):
    page = login(client, "", "").get_data(as_text=True)
    assert "Ange din e-postadress." in page
    assert 'aria-describedby="email-error"' in page
    assert 'aria-invalid="true"' in page


def test_anonymous_user_is_sent_to_login_and_back(client, make_user):
    _, password = make_user("official", "anna@example.se")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=/", data={"csrf_token": token, "email": "anna@example.se", "password": password}
    )
    assert response.headers["Location"] == "/"


def test_login_does_not_redirect_to_another_site(client, make_user):
    _, password = make_user("official", "anna@example.se")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/", data={"csrf_token": token, "email": "anna@example.se", "password": password}
    )
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(client, make_user):
    _, password = make_user("archivist")
    login(client, "archivist1@example.se", password)
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "Du är utloggad." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_password_is_stored_hashed(app, make_user):
    _, password = make_user("official", "anna@example.se")
    with app.extensions["db"].session() as db:
        stored = db.scalar(select(User.password_hash).where(User.email == "anna@example.se"))
    assert password not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    method = stored.split("$")[0]
    assert users._dummy_hash().startswith(method + "$")  # an unknown email costs the same check


def test_sixth_attempt_is_refused_even_with_the_right_password(client, make_user):
    _, password = make_user("official", "anna@example.se")
    for _ in range(5):
        assert "Fel e-postadress" in login(client, "anna@example.se", "fel-lösenord").get_data(as_text=True)
    response = login(client, "anna@example.se", password)
    assert response.status_code == 429
    assert "För många misslyckade inloggningsförsök" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_successful_login_clears_earlier_failures(client, make_user):
    _, password = make_user("official", "anna@example.se")
    for _ in range(4):
        login(client, "anna@example.se", "fel-lösenord")
    assert login(client, "anna@example.se", password).status_code == 302


def test_throttle_forgets_failures_after_the_window(app):
    now = [datetime(2026, 1, 1, 12, 0)]
    throttle = RateLimit(app.extensions["db"], "login", max_hits=5, window=900, clock=lambda: now[0])
    for _ in range(5):
        throttle.record("anna@example.se", "10.0.0.1")
    assert throttle.blocked("anna@example.se", "10.0.0.1")
    assert not throttle.blocked("anna@example.se", "10.0.0.2")
    now[0] += timedelta(seconds=901)
    assert not throttle.blocked("anna@example.se", "10.0.0.1")


def test_failed_logins_count_across_hosts_sharing_the_database(app, make_user):
    """Two web hosts (two apps on one database): five failures on one block the other."""
    _, password = make_user("official", "anna@example.se")
    other_host = create_app({"TESTING": True}, office=app.extensions["office"])
    first, second = app.test_client(), other_host.test_client()
    for client in (first, second, first, second, first):
        assert "Fel e-postadress" in login(client, "anna@example.se", "fel-lösenord").get_data(as_text=True)
    assert login(second, "Anna@example.se", password).status_code == 429
    other_host.extensions["jobs"].close()


def test_users_create_prints_a_working_token(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "Anna@example.se", "--role", "official"])
    assert result.exit_code == 0, result.output
    token = re.search(r"API-nyckel \(visas bara nu\): (\S+)", result.output).group(1)
    password = re.search(r"Lösenord: (\S+)", result.output).group(1)
    with app.extensions["db"].session() as db:
        assert users.user_for_token(db, token).email == "anna@example.se"
        assert users.user_for_token(db, token + "x") is None
        stored = db.scalar(select(ApiToken.token_hash))
        assert users.authenticate(db, "anna@example.se", password).role == "official"
    assert token not in stored


def test_users_create_refuses_a_duplicate_email(runner):
    runner.invoke(args=["users", "create", "--email", "anna@example.se", "--role", "official"])
    result = runner.invoke(args=["users", "create", "--email", "anna@example.se", "--role", "archivist"])
    assert result.exit_code == 1
    assert "Det finns redan en användare med e-postadressen anna@example.se." in result.output


def test_users_demo_only_on_an_empty_database(app, runner, client):
    result = runner.invoke(args=["users", "demo", "--show-passwords"])
    assert result.exit_code == 0, result.output
    password = re.search(r"handlaggare@example\.se \(handläggare\)  lösenord: (\S+)", result.output).group(1)
    assert "arkivarie@example.se (arkivarie)" in result.output and "admin@example.se (administratör)" in result.output
    assert "handlaggare@example.se" in login(
        client, "handlaggare@example.se", password, follow_redirects=True
    ).get_data(as_text=True)

    again = runner.invoke(args=["users", "demo"])
    assert "inga demoanvändare skapades" in again.output
    with app.extensions["db"].session() as db:
        assert len(db.scalars(select(User)).all()) == 3


def test_demo_passwords_are_never_written_into_a_log(runner):
    result = runner.invoke(args=["users", "demo"])  # output to a pipe or file, as scripts/serve's log
    assert result.exit_code == 0 and "handlaggare@example.se (handläggare)" in result.output
    assert "lösenord:" not in result.output and "visas bara i en terminal" in result.output


def test_start_page_leads_to_the_roles_section(client, make_user):
    for role, section in (("official", "/avtal"), ("archivist", "/arkiv"), ("admin", "/avtal")):
        _, password = make_user(role, f"{role}@example.se")
        user_client = client.application.test_client()
        login(user_client, f"{role}@example.se", password)
        assert user_client.get("/").headers["Location"] == section


@pytest.mark.parametrize(
    "next_path",
    ["/%09/evil.example", "/%5Cevil.example", "/%0D%0ASet-Cookie:%20x=1", "/%0A/evil.example", "//evil", "/%2F/evil"],
)
def test_login_never_redirects_off_the_site(client, make_user, next_path):
    _, password = make_user("official", "anna@example.se")
    response = login(client, "anna@example.se", password, next_query=next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_still_returns_to_a_page_on_the_site(client, make_user):
    _, password = make_user("official", "anna@example.se")
    response = login(client, "anna@example.se", password, next_query="/arkiv%3Fq%3DSk%25C3%25A5ne")
    assert response.headers["Location"] == "/arkiv?q=Sk%C3%A5ne"


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


def from_address(client, address, forwarded=False):
    """`client` as seen from `address`: its own, or one a proxy forwards (X-Forwarded-For)."""
    if forwarded:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    else:
        client.environ_base["REMOTE_ADDR"] = address
    return client


def test_guessing_from_other_addresses_never_keeps_the_right_password_out(app, make_user):
    """Failures for one account from many addresses slow it down; they never refuse it."""
    _, password = make_user("official", "anna@example.se")
    for i in range(7):
        attacker = from_address(app.test_client(), f"198.51.100.{i}")
        assert "Fel e-postadress" in login(attacker, "anna@example.se", "fel-lösenord").get_data(as_text=True)
    started = time.monotonic()
    response = login(from_address(app.test_client(), "203.0.113.7"), "anna@example.se", password)
    assert response.status_code == 302  # in, after a wait
    assert time.monotonic() - started >= 0.9  # 7 failures: 0.25 s doubled twice


def test_one_address_guessing_at_many_accounts_is_refused(app, make_user):
    _, password = make_user("official", "anna@example.se")
    attacker = from_address(app.test_client(), "198.51.100.9")
    for i in range(30):
        login(attacker, f"person{i}@example.se", "fel-lösenord")
    assert login(attacker, "anna@example.se", password).status_code == 429
    assert login(from_address(app.test_client(), "203.0.113.7"), "anna@example.se", password).status_code == 302


def test_behind_trusted_proxies_the_client_address_counts(app, make_user):
    """Behind a load balancer every request comes from its address: with AVTAL_TRUSTED_PROXIES
    the throttle sees each client's own, so one client's failures do not lock out another."""
    _, password = make_user("official", "anna@example.se")
    behind = create_app({"TESTING": True, "TRUSTED_PROXIES": 1}, office=app.extensions["office"])
    try:
        attacker = from_address(behind.test_client(), "198.51.100.1", forwarded=True)
        for _ in range(5):
            login(attacker, "anna@example.se", "fel-lösenord")
        assert login(attacker, "anna@example.se", password).status_code == 429
        user = from_address(behind.test_client(), "203.0.113.7", forwarded=True)
        assert login(user, "anna@example.se", password).status_code == 302
    finally:
        behind.extensions["jobs"].close()
    # without the setting the header is not believed: both are the balancer's address
    for _ in range(5):
        login(from_address(app.test_client(), "198.51.100.2", forwarded=True), "anna@example.se", "fel-lösenord")
    user = from_address(app.test_client(), "203.0.113.8", forwarded=True)
    assert login(user, "anna@example.se", password).status_code == 429


@pytest.mark.slow
def test_evidence_records_the_clients_address_behind_a_proxy(app, make_user, iop_data, api_token):
    behind = create_app({"TESTING": True, "TRUSTED_PROXIES": 1}, office=app.extensions["office"])
    try:
        client = from_address(behind.test_client(), "203.0.113.44", forwarded=True)
        _, links = create_and_send(client, api_token, iop_data)
        assert confirm(client, links[0]["url"], "Lund").status_code == 200
        with app.extensions["db"].session() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.event == "confirmed")).one()
            assert event.ip == "203.0.113.44"
    finally:
        behind.extensions["jobs"].close()
