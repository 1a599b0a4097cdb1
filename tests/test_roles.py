"""Every route against every kind of visitor: who gets in, who is refused, and nothing crashes.

A new route must be added to ACCESS, or test_every_route_is_classified fails.
"""

import re

import pytest
from sqlalchemy import select

from service import agreements, mail, signing, users
from service.audit import Actor
from service.errors import NotAllowed
from service.models import Agreement, AgreementHandler, AuditEvent, Party, SigningLink, Version
from service.roles import ADMINS, DRAFTERS, OFFICIAL, READERS, ROLES

from .helpers import bearer, count, create_and_send, login, path_of

ACCESS = {
    # endpoint: roles let in; "any" = everyone, "token" = whoever holds the party's link
    "home.index": ROLES,
    "auth.login": "any",
    "auth.logout": ROLES,
    "static": "any",
    "operations.healthz": "any",
    "operations.readyz": "any",
    "drafting.index": DRAFTERS,
    "drafting.new": DRAFTERS,
    "drafting.show": DRAFTERS,
    "drafting.edit": DRAFTERS,
    "drafting.preview": DRAFTERS,
    "drafting.preview_page": DRAFTERS,
    "drafting.preview_pdf": DRAFTERS,
    "sending.send": DRAFTERS,
    "sending.revoke": DRAFTERS,
    "sending.reissue": DRAFTERS,
    "sending.add_party": DRAFTERS,
    "drafting.add_handler": DRAFTERS,
    "drafting.log": DRAFTERS,
    "drafting.final_pdf": DRAFTERS,
    "drafting.retry_final": DRAFTERS,
    "drafting.set_notify": DRAFTERS,
    "drafting.set_registry_email": DRAFTERS,
    "drafting.copy": DRAFTERS,
    "sending.remind": DRAFTERS,
    "uploads.templates": DRAFTERS,
    "uploads.download": DRAFTERS,
    "uploads.reference": DRAFTERS,
    "uploads.preview": DRAFTERS,
    "uploads.compare": DRAFTERS,
    "uploads.activate": DRAFTERS,
    "uploads.retire": DRAFTERS,
    "drafting.locked_version": DRAFTERS,
    "accessions.upload": DRAFTERS,
    "accessions.show": DRAFTERS,
    "accessions.accept": DRAFTERS,
    "accessions.record_pdf": READERS,
    "accessions.register_file": READERS,
    "accessions.request_register": DRAFTERS,
    "archive.index": READERS,
    "archive.show": READERS,
    "archive.final_pdf": READERS,
    "archive.version_pdf": READERS,
    "archive.log_json": READERS,
    "archive.log_csv": READERS,
    "archive.package": READERS,
    "archive.packages": READERS,
    "verify.index": "any",
    "verify.check": "any",
    "verify.certificate": "any",
    "sign.show": "token",
    "sign.confirm": "token",
    "sign.decline": "token",
    "sign.forward": "token",
    "sign.pdf": "token",
    "sign.page_image": "token",
    "admin.index": ADMINS,
    "admin.create_user": ADMINS,
    "admin.new_password": ADMINS,
    "admin.create_token": ADMINS,
    "admin.revoke_token": ADMINS,
    "admin.webhook_list": ADMINS,
    "admin.add_webhook": ADMINS,
    "admin.webhook": ADMINS,
    "admin.rotate_webhook": ADMINS,
    "admin.disable_webhook": ADMINS,
    "admin.redeliver": ADMINS,
    "admin.processes": ADMINS,
    "admin.add_process": ADMINS,
    "admin.retire_process": ADMINS,
    "notices.privacy": "any",
    "notices.accessibility": "any",
    "sign.receipt": "token",
    "sign.receipt_pdf": "token",
    "sign.final_pdf": "token",
    "api.openapi": "any",
    "api.index": READERS,
    "api.create": DRAFTERS,
    "api.send": DRAFTERS,
    "api.add_party": DRAFTERS,
    "api.show": READERS,
    "api.accession_status": READERS,
    "api.final_pdf": READERS,
    "api.joined": READERS,
    "api.record_pdf": READERS,
    "api.register_file": READERS,
}
VISITORS = ("anonymous", "party", *ROLES)


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ACCESS)


def url_for_rule(rule, ids):
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: str(ids[m.group(1)]), rule.rule)


@pytest.fixture
def world(app, client, api_token, halland_data):
    """A sent agreement with a party link, and a session or bearer token per visitor."""
    agreement_id, links = create_and_send(client, api_token, halland_data)
    with app.extensions["db"].session() as session:
        party = session.scalars(select(Party).where(Party.agreement_id == agreement_id)).first()
        credentials = {}
        for role in ROLES:
            password = users.generate_password()
            user = users.create_user(session, f"{role}-matris@example.se", role, password)
            credentials[role] = (user.email, password, users.issue_api_token(session, user))
            if role == OFFICIAL:  # a handläggare of the agreement; test_threats covers the others
                session.add(AgreementHandler(agreement_id=agreement_id, user_id=user.id))
    return {
        "ids": {
            "agreement_id": agreement_id,
            "party_id": party.id,
            "accession_id": 1,
            "number": 1,
            "ending": "pdf",
            "sha": "0" * 64,
            "sha256": "0" * 64,
            "filename": "style.css",
            "user_id": 1,
            "token_id": 1,
            "process_id": 1,
            "action": "avveckla",
            "kind": "iop",
            "ref": "inbyggd",
            "endpoint_id": 1,
            "delivery_id": 1,
            "token": path_of(links[0]["url"])[len("/sign/") :],
        },
        "credentials": credentials,
    }


def visit(app, visitor, world):
    """A client as this visitor, its CSRF token, and its bearer token if any."""
    client = app.test_client()
    bearer_token = None
    if visitor in world["credentials"]:
        email, password, bearer_token = world["credentials"][visitor]
        assert login(client, email, password).status_code == 302
    html = client.get("/login" if visitor in ("anonymous", "party") else "/", follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html.get_data(as_text=True))
    return client, token.group(1) if token else "", bearer_token


@pytest.mark.slow
@pytest.mark.parametrize("visitor", VISITORS)
def test_access_matrix(app, world, visitor):
    client, csrf, bearer_token = visit(app, visitor, world)
    rules = sorted(app.url_map.iter_rules(), key=lambda r: ("POST" in r.methods, r.rule))
    for rule in rules:
        if rule.endpoint in ("auth.logout",):
            continue  # would end the session the loop relies on; covered in test_auth
        allowed = ACCESS[rule.endpoint]
        url = url_for_rule(rule, world["ids"])
        method = "POST" if "POST" in rule.methods and "GET" not in rule.methods else "GET"
        if rule.endpoint.startswith("api."):
            headers = bearer(bearer_token) if bearer_token else {}
            response = client.open(url, method=method, json={} if method == "POST" else None, headers=headers)
        else:
            response = client.open(url, method=method, data={"csrf_token": csrf} if method == "POST" else None)
        status, where = response.status_code, response.headers.get("Location", "")
        label = f"{visitor} {method} {url} -> {status}"
        assert status < 500, label
        let_in = allowed == "any" or (allowed == "token") or visitor in allowed
        if let_in:
            assert status not in (401, 403) and "/login" not in where, label
        elif rule.endpoint.startswith("api."):
            assert status == (401 if visitor in ("anonymous", "party") else 403), label
        elif visitor in ("anonymous", "party"):
            assert status == 302 and "/login" in where, label
        else:
            assert status == 403, label


# --- the handläggare rule, asked by the domain functions themselves ---


def test_a_colleague_who_is_not_handlaggare_cannot_change_a_draft_through_the_domain(app, make_user, iop_data):
    anna, _ = make_user("official", "anna@example.se")
    bertil, _ = make_user("official", "bertil@example.se")
    admin, _ = make_user("admin", "admin@example.se")
    x = app.extensions
    with x["db"].session() as session:
        agreement_id = agreements.create_draft(session, x["files"], iop_data, anna, Actor("user:anna")).id
    events_before = count(app, AuditEvent)
    changed = dict(iop_data, title="Bertils titel")

    with x["db"].session() as session, pytest.raises(NotAllowed) as refused:
        agreements.update_draft(session, x["files"], session.get(Agreement, agreement_id), changed, bertil, Actor("b"))
    assert "Bara avtalets handläggare och administratörer" in refused.value.message
    with x["db"].session() as session, pytest.raises(NotAllowed):
        agreement = session.get(Agreement, agreement_id)
        agreements.set_registry_email(session, agreement, "diarium@example.se", bertil, Actor("b"))
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with pytest.raises(NotAllowed):  # refused before anything is rendered
        agreements.send_for_signature(
            x["db"], x["files"], x["office"], x["seal"], serializer, agreement_id, 30, bertil, Actor("b")
        )
    with x["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        assert (agreement.title, agreement.registry_email, agreement.status) == (iop_data["title"], "", "draft")
    assert count(app, AuditEvent) == events_before and count(app, Version) == 0

    with x["db"].session() as session:  # an admin may, as the handläggare may
        agreement = session.get(Agreement, agreement_id)
        agreements.update_draft(session, x["files"], agreement, changed, admin, Actor("admin"))
        agreements.set_registry_email(session, agreement, "diarium@example.se", anna, Actor("anna"))
    with x["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        assert (agreement.title, agreement.registry_email) == ("Bertils titel", "diarium@example.se")


@pytest.mark.slow
def test_a_colleague_who_is_not_handlaggare_cannot_touch_the_links_through_the_domain(
    app, client, api_token, make_user, iop_data, smtp_server
):
    agreement_id, _ = create_and_send(client, api_token, iop_data)
    bertil, _ = make_user("official", "bertil@example.se")
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with app.extensions["db"].session() as session:
        party = signing.active_parties(session, session.get(Agreement, agreement_id))[1]
    links_before, events_before = count(app, SigningLink), count(app, AuditEvent)

    with app.extensions["db"].session() as session, pytest.raises(NotAllowed):
        signing.reissue_link(session, serializer, session.get(Party, party.id), 30, bertil, Actor("b"))
    with app.extensions["db"].session() as session, pytest.raises(NotAllowed):
        signing.revoke(session, session.get(Party, party.id), bertil, Actor("b"))
    with pytest.raises(NotAllowed):
        mail.remind_by_hand(app, agreement_id, party.id, bertil, Actor("b"))
    assert count(app, SigningLink) == links_before and count(app, AuditEvent) == events_before
    assert count(app, SigningLink, SigningLink.revoked_at.is_not(None)) == 0
    assert not [m for m in smtp_server.messages if m["Subject"].startswith("Påminnelse")]

    with app.extensions["db"].session() as session:  # the creator, a handläggare, may
        creator = agreements.handlers(session, session.get(Agreement, agreement_id))[0]
        signing.revoke(session, session.get(Party, party.id), creator, Actor("creator"))
    assert count(app, SigningLink, SigningLink.revoked_at.is_not(None)) == 1
