"""The admin pages: users, API tokens and webhooks without the command line."""

import re

import pytest
from sqlalchemy import select

from service import webhooks
from service.models import ApiToken, User, WebhookDelivery, WebhookEndpoint

from .helpers import Receiver, bearer, count, create_and_send, csrf_token, login, wait_for


@pytest.fixture
def admin(client, make_user):
    user, password = make_user("admin", "admin@example.se")
    login(client, user.email, password)
    return client


def post(client, url, data=None):
    token = csrf_token(client.get("/admin").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def shown_once(response) -> str:
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "visas bara den här gången" in html
    return re.search(r'id="value" class="shown-once" type="text" value="([^"]+)"', html).group(1)


def test_only_admins_see_the_section(client, make_user):
    official, password = make_user("official")
    login(client, official.email, password)
    assert client.get("/admin").status_code == 403
    assert 'href="/admin"' not in client.get("/avtal").get_data(as_text=True)


def test_an_admin_creates_a_user_who_can_log_in(app, admin):
    assert 'href="/admin"' in admin.get("/avtal").get_data(as_text=True)
    password = shown_once(post(admin, "/admin/anvandare", {"email": "Ny@Region.se", "role": "archivist"}))
    fresh = app.test_client()
    assert "ny@region.se" in login(fresh, "ny@region.se", password, follow_redirects=True).get_data(as_text=True)
    page = admin.get("/admin").get_data(as_text=True)
    assert "ny@region.se" in page and "arkivarie" in page and password not in page

    again = post(admin, "/admin/anvandare", {"email": "ny@region.se", "role": "official"})
    assert again.status_code == 400
    assert "Det finns redan en användare med e-postadressen ny@region.se." in again.get_data(as_text=True)
    bad = post(admin, "/admin/anvandare", {"email": "inte-en-adress", "role": "official"})
    assert bad.status_code == 400 and "Ange en giltig e-postadress." in bad.get_data(as_text=True)
    assert count(app, User) == 2


def test_a_new_password_replaces_the_old_one(app, admin, make_user):
    user, old = make_user("official", "anna@region.se")
    new = shown_once(post(admin, f"/admin/anvandare/{user.id}/losenord"))
    assert login(app.test_client(), user.email, old).status_code == 200  # the form again: refused
    assert login(app.test_client(), user.email, new).status_code == 302


def test_tokens_are_created_show_their_last_use_and_can_be_revoked(app, admin, make_user):
    user, _ = make_user("official", "integration@region.se")
    token = shown_once(post(admin, f"/admin/anvandare/{user.id}/nycklar", {"name": "Ärendesystemet"}))
    page = admin.get("/admin").get_data(as_text=True)
    assert "Ärendesystemet" in page and "aldrig använd" in page and token not in page

    client = app.test_client()
    assert client.get("/api/agreements/1", headers=bearer(token)).status_code == 404  # let in: no such agreement
    assert "senast använd" in admin.get("/admin").get_data(as_text=True)

    with app.extensions["db"].session() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id)).one()
    revoked = post(admin, f"/admin/nycklar/{token_id}/aterkalla")
    assert revoked.status_code == 302
    page = admin.get("/admin").get_data(as_text=True)
    assert "API-nyckeln för integration@region.se är återkallad" in page and "Återkallad" in page
    assert client.get("/api/agreements/1", headers=bearer(token)).status_code == 401
    assert post(admin, "/admin/nycklar/999/aterkalla").status_code == 404


@pytest.mark.slow
def test_webhooks_registered_rotated_logged_and_redelivered_on_the_page(
    app, admin, client, api_token, iop_data, run_jobs
):
    app.config.update(WEBHOOK_ATTEMPTS=1, WEBHOOK_TIMEOUT=3)
    receiver = Receiver()
    refused = post(admin, "/admin/webhooks", {"url": "crm.region.se"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "Ange en fullständig adress" in html and "Välj minst en händelse." in html
    assert count(app, WebhookEndpoint) == 0

    secret = shown_once(post(admin, "/admin/webhooks", {"url": receiver.url, "events": ["agreement.sent"]}))
    with app.extensions["db"].session() as session:
        endpoint_id = session.scalars(select(WebhookEndpoint.id)).one()
    receiver.secrets.append(secret)

    create_and_send(client, api_token, iop_data)  # the receiver is down: one attempt, then given up
    wait_for(lambda: count(app, WebhookDelivery, WebhookDelivery.failed_at.is_not(None)) == 1, seconds=30)
    log = admin.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "Gav upp" in log and "Kunde inte nå mottagaren" in log and "agreement.sent" in log
    assert "Gav upp" in admin.get("/admin/webhooks").get_data(as_text=True)

    receiver.start()
    try:
        new_secret = shown_once(post(admin, f"/admin/webhooks/{endpoint_id}/rotera"))
        assert new_secret != secret and new_secret.startswith("whsec_")
        receiver.secrets = [new_secret]
        with app.extensions["db"].session() as session:
            delivery_id = session.scalars(select(WebhookDelivery.id)).one()
        assert post(admin, f"/admin/leveranser/{delivery_id}/skicka-igen").status_code == 302
        wait_for(lambda: receiver.received, seconds=30)
        assert receiver.types() == ["agreement.sent"] and not receiver.refused
        assert "HTTP 204" in admin.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    finally:
        receiver.stop()

    assert post(admin, f"/admin/webhooks/{endpoint_id}/inaktivera").status_code == 302
    assert "Inaktiverad" in admin.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    with app.extensions["db"].session() as session:
        assert webhooks.fan_out(session, app.config["PUBLIC_URL"]) == []
