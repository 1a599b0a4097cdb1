"""Signed webhooks to a real HTTP receiver on loopback, verified with the standardwebhooks package."""

import hashlib
import json
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service import accession_records, agreements, mail, signing, webhooks
from service.audit import Actor
from service.models import (
    Agreement,
    FinalDocument,
    Party,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)

from .helpers import (
    Receiver,
    bearer,
    confirm,
    count,
    create_and_send,
    decline,
    org_number,
    send_and_confirm,
    wait_for,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


ADMIN = Actor("user:admin@example.se")
OVERLAP = timedelta(hours=1)


@pytest.fixture
def receivers():
    started = []

    def make(*secrets, answer=204):
        receiver = Receiver(*secrets, answer=answer)
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def quick_retries(app):
    app.config.update(WEBHOOK_FIRST_RETRY=0.2, WEBHOOK_TIMEOUT=3)


def add_endpoint(app, url, events=tuple(webhooks.TYPE_LABELS)):
    with app.extensions["db"].session() as session:
        endpoint, secret = webhooks.add_endpoint(session, url, list(events), ADMIN)
        return endpoint.id, secret


def fan_out(app):
    with app.extensions["db"].session() as session:
        return webhooks.fan_out(session, app.config["PUBLIC_URL"])


def policy(app):
    return app.extensions["jobs"].webhook_policy()


def test_cli_prints_the_secret_once_and_refuses_bad_input(app, runner):
    result = runner.invoke(
        args=["webhooks", "add", "https://crm.example.se/hooks", "--events", "party.confirmed,final.ready"]
    )
    assert result.exit_code == 0, result.output
    secret = re.search(r"Hemlighet \(visas bara nu\): (whsec_\S+)", result.output).group(1)
    Webhook(secret)  # a secret the package accepts
    with app.extensions["db"].session() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        assert endpoint.events == ["final.ready", "party.confirmed"]

    for args, message in (
        (["ftp://x.se", "--events", "final.ready"], "Ange en fullständig adress"),
        (["https://x.se", "--events", "party.signed"], "Okänd händelse: party.signed"),
    ):
        result = runner.invoke(args=["webhooks", "add", *args])
        assert result.exit_code == 1 and message in result.output
    assert count(app, WebhookEndpoint) == 1


def test_receiver_down_for_a_while_gets_every_event_signed(
    app, client, api_token, iop_data, runner, run_jobs, receivers, quick_retries
):
    other_id, _ = add_endpoint(app, receivers().url, ["agreement.sent"])  # must not get the other types
    receiver = receivers()
    result = runner.invoke(
        args=["webhooks", "add", receiver.url, "--events", ",".join(webhooks.TYPE_LABELS)],
    )
    receiver.secrets.append(re.search(r"(whsec_\S+)", result.output).group(1))
    endpoint_id = int(re.search(r"Webhook (\d+)", result.output).group(1))

    agreement_id, links = create_and_send(client, api_token, iop_data)

    def refused_attempts():
        with app.extensions["db"].session() as session:
            return session.scalars(
                select(WebhookAttempt.error)
                .join(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.event_type == "agreement.sent",
                    WebhookAttempt.error.like("Kunde inte nå%"),
                )
            ).all()

    wait_for(lambda: len(refused_attempts()) >= 3, seconds=30)  # down: connection refused, tried again
    for url, place in zip((link["url"] for link in links), ("Kristianstad", "Malmö")):
        assert confirm(client, url, place).status_code == 200
    receiver.start()  # back after a while

    wait_for(lambda: len(receiver.received) == 8, seconds=120)
    expected = ["agreement.completed", "agreement.created", "agreement.sent", "final.ready"]
    expected += ["link.issued"] * 2 + ["party.confirmed"] * 2
    assert receiver.types() == expected and not receiver.refused
    by_type = {payload["type"]: (headers, payload) for headers, payload in receiver.received}
    assert len({headers["Webhook-Id"] for headers, _ in receiver.received}) == 8

    sent = by_type["agreement.sent"][1]
    assert sent["data"]["agreement"]["id"] == agreement_id and sent["data"]["version"] == 1
    assert sent["data"]["agreement"]["title"] == iop_data["title"]
    assert sent["timestamp"].endswith("Z")
    confirmed = sorted(p["data"]["place"] for _, p in receiver.received if p["type"] == "party.confirmed")
    assert confirmed == ["Kristianstad", "Malmö"]
    with app.extensions["db"].session() as session:
        final = session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == agreement_id)).one()
    ready = by_type["final.ready"][1]["data"]
    assert ready["sha256"] == final.sha256 and ready["number"] == 1
    assert ready["url"].endswith(f"/api/agreements/{agreement_id}/final.pdf")
    assert by_type["agreement.completed"][1]["data"]["parties"] == 2

    with app.extensions["db"].session() as session:
        mine = session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.event_type == "agreement.sent", WebhookDelivery.endpoint_id == endpoint_id
            )
        ).one()
        assert mine.delivered_at is not None and mine.attempt_count >= 4
        assert [a.status_code for a in mine.attempts][-1] == 204
        assert all(a.error.startswith("Kunde inte nå") for a in mine.attempts[:-1])
        others = session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == other_id)).all()
        assert [d.event_type for d in others] == ["agreement.sent"]


def test_a_delivery_run_twice_at_once_sends_once(app, client, api_token, iop_data, receivers):
    receiver = receivers()
    endpoint_id, secret = add_endpoint(app, receiver.url, ["agreement.sent"])
    receiver.secrets.append(secret)
    receiver.start()
    create_and_send(client, api_token, iop_data)
    (delivery_id,) = fan_out(app)
    assert fan_out(app) == []  # fanning out again stores nothing twice

    outcomes = []
    threads = [
        threading.Thread(
            target=lambda: outcomes.append(webhooks.deliver(app.extensions["db"], delivery_id, policy(app)))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(o.sent for o in outcomes) == 1 and len(receiver.received) == 1
    assert count(app, WebhookAttempt) == 1
    assert not webhooks.deliver(app.extensions["db"], delivery_id, policy(app)).sent  # delivered: nothing more


def end_overlap(app, endpoint_id):
    """Move the rotated-out secrets' expiry into the past, as if the overlap had run out."""
    with app.extensions["db"].session() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        for secret in webhooks.live_secrets(session, endpoint, utcnow())[1:]:
            secret.expires_at = utcnow() - timedelta(seconds=1)


def test_rotation_signs_with_both_secrets_during_the_overlap(app, client, api_token, iop_data, receivers):
    receiver = receivers()
    endpoint_id, old_secret = add_endpoint(app, receiver.url, ["agreement.sent"])
    for _ in range(2):
        create_and_send(client, api_token, iop_data)
    first, second = fan_out(app)  # the bodies are fixed now; each attempt is signed when it is made
    with app.extensions["db"].session() as session:
        new_secret = webhooks.rotate_secret(session, session.get(WebhookEndpoint, endpoint_id), OVERLAP, ADMIN)
    receiver.secrets.append(new_secret)
    receiver.start()

    def deliver(delivery_id):
        assert webhooks.deliver(app.extensions["db"], delivery_id, policy(app)).delivered
        headers, payload = receiver.received[-1]
        return headers, json.dumps(payload, ensure_ascii=False, separators=(",", ":"))

    headers, body = deliver(first)
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    assert Webhook(old_secret).verify(body, headers)  # a receiver not yet switched still accepts it

    end_overlap(app, endpoint_id)  # only the new secret signs from now on
    headers, body = deliver(second)
    assert len(headers["Webhook-Signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(body, headers)


def test_gives_up_after_the_last_attempt_and_tries_for_over_a_day_by_default(
    app, client, api_token, iop_data, receivers, quick_retries
):
    receiver = receivers(answer=500)
    endpoint_id, secret = add_endpoint(app, receiver.url, ["agreement.sent"])
    receiver.secrets.append(secret)
    receiver.start()
    app.config.update(WEBHOOK_ATTEMPTS=3, WEBHOOK_FIRST_RETRY=0)
    create_and_send(client, api_token, iop_data)
    (delivery_id,) = fan_out(app)
    outcomes = [webhooks.deliver(app.extensions["db"], delivery_id, policy(app)) for _ in range(4)]
    assert [o.sent for o in outcomes] == [True, True, True, False]
    with app.extensions["db"].session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery.failed_at is not None and delivery.next_attempt_at is None
        assert [a.error for a in delivery.attempts] == ["Svarade HTTP 500"] * 3

    default = webhooks.Policy()
    assert default.total() >= timedelta(days=1)
    assert [default.delay_after(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]


def test_events_before_an_endpoint_existed_are_not_sent(app, client, api_token, iop_data):
    create_and_send(client, api_token, iop_data)
    add_endpoint(app, "https://crm.example.se/hooks")
    assert fan_out(app) == []
    client.post("/api/agreements", json=iop_data, headers=bearer(api_token))  # one from after it was added
    (delivery_id,) = fan_out(app)
    with app.extensions["db"].session() as session:
        assert session.get(WebhookDelivery, delivery_id).event_type == "agreement.created"


def test_a_decline_reaches_the_integration_with_its_reason(app, client, api_token, iop_data, receivers):
    receiver = receivers()
    endpoint_id, secret = add_endpoint(app, receiver.url, ["party.declined"])
    receiver.secrets.append(secret)
    receiver.start()
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert decline(client, links[1]["url"], "Beloppet är fel.").status_code == 200

    (delivery_id,) = fan_out(app)  # only the decline: the endpoint did not ask for agreement.sent
    assert webhooks.deliver(app.extensions["db"], delivery_id, policy(app)).delivered
    ((_, payload),) = receiver.received
    assert payload["type"] == "party.declined"
    assert payload["data"]["party"] == iop_data["parties"][1]["name"]
    assert payload["data"]["reason"] == "Beloppet är fel." and payload["data"]["agreement"]["id"] == agreement_id


def test_the_agreement_declined_as_a_whole_is_an_event_of_its_own(app, client, api_token, iop_data, receivers):
    """The first decline declines the agreement: agreement.declined to an endpoint that asks for it,
    the later one party.declined; each message is one change and looks as documented."""
    both = receivers()
    both_id, secret = add_endpoint(app, both.url, ["agreement.declined", "party.declined", "version.frozen"])
    both.secrets.append(secret)
    parties_only = receivers()
    parties_id, secret = add_endpoint(app, parties_only.url, ["party.declined"])
    parties_only.secrets.append(secret)
    for receiver in (both, parties_only):
        receiver.start()

    agreement_id, links = create_and_send(client, api_token, iop_data)
    for url, reason in zip((link["url"] for link in links), ("Beloppet är fel.", "Vi instämmer.")):
        assert decline(client, url, reason).status_code == 200
    for delivery_id in fan_out(app):
        assert webhooks.deliver(app.extensions["db"], delivery_id, policy(app)).delivered

    assert [p["type"] for _, p in both.received] == ["version.frozen", "agreement.declined", "party.declined"]
    assert [p["type"] for _, p in parties_only.received] == ["party.declined", "party.declined"]
    declined = both.received[1][1]["data"]
    assert declined["party"] == iop_data["parties"][0]["name"] and declined["reason"] == "Beloppet är fel."
    assert both.received[0][1]["data"]["version"] == 1
    for _, payload in both.received + parties_only.received:
        assert list(payload) == list(documented(payload)) and list(payload["data"]) == list(documented(payload)["data"])
        assert list(payload["data"]["agreement"]) == list(documented(payload)["data"]["agreement"])
        assert payload["data"]["agreement"]["id"] == agreement_id


def documented(payload) -> dict:
    return webhooks.example_body(next(kind for kind in webhooks.EVENTS if kind.name == payload["type"]))


def test_an_officials_changes_reach_the_integration_as_documented(app, client, api_token, iop_data, make_user):
    endpoint_id, _ = add_endpoint(app, "https://crm.example.se/hooks")  # every event
    agreement_id, _ = create_and_send(client, api_token, iop_data)
    colleague, _ = make_user("official", "kollega@region.example.se")
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        creator = session.scalars(select(User).where(User.email == "api@example.se")).one()
        agreements.add_handler(session, agreement, colleague.email, creator, ADMIN)
        party = session.scalars(select(Party).where(Party.agreement_id == agreement_id, Party.position == 1)).one()
        signing.reissue_link(session, signing.link_serializer(app.config["SECRET_KEY"]), party, 30, creator, ADMIN)
        agreements.update_draft(session, app.extensions["files"], agreement, iop_data, creator, ADMIN)
    fan_out(app)

    with app.extensions["db"].session() as session:
        bodies = session.scalars(
            select(WebhookDelivery.body).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id)
        ).all()
    payloads = [json.loads(body) for body in bodies]
    assert [p["type"] for p in payloads] == [
        "agreement.created",
        "agreement.sent",  # one message per change: agreement.sent is listed before version.frozen
        "link.issued",
        "link.issued",
        "handler.added",
        "link.revoked",
        "link.issued",
        "agreement.updated",
    ]
    for payload in payloads:
        assert list(payload) == list(documented(payload)) and list(payload["data"]) == list(documented(payload)["data"])
        assert payload["data"]["agreement"]["id"] == agreement_id
    assert payloads[4]["data"]["email"] == colleague.email
    assert payloads[5]["data"]["party"] == payloads[6]["data"]["party"] == party.name


@pytest.mark.slow
def test_an_organisation_that_joins_reaches_the_integration_with_its_record(
    app, client, api_token, halland_data, receivers
):
    agreement_id, _ = send_and_confirm(client, api_token, halland_data)
    newcomer = dict(halland_data["parties"][1], name="Nya Föreningen i Varberg", org_number=org_number("802479456"))
    added = client.post(f"/api/agreements/{agreement_id}/parties", json=newcomer, headers=bearer(api_token))
    assert confirm(client, added.json["links"][0]["url"], "Varberg").status_code == 200
    receiver = receivers()
    endpoint_id, secret = add_endpoint(app, receiver.url, ["party.joined"])
    receiver.secrets.append(secret)
    receiver.start()
    x = app.extensions
    with x["db"].session() as session:
        [confirmation_id] = accession_records.missing_records(session)
    record = accession_records.make_record(x["db"], x["files"], x["office"], x["seal"], confirmation_id)

    (delivery_id,) = fan_out(app)  # the record made after the endpoint was added, nothing else
    assert webhooks.deliver(x["db"], delivery_id, policy(app)).delivered
    ((_, payload),) = receiver.received
    assert payload["type"] == "party.joined"
    data = payload["data"]
    assert (data["party"], data["number"], data["sha256"]) == ("Nya Föreningen i Varberg", 1, record.sha256)
    fetched = client.get(data["record_url"].removeprefix(app.config["PUBLIC_URL"]), headers=bearer(api_token))
    assert fetched.status_code == 200 and hashlib.sha256(fetched.data).hexdigest() == record.sha256


def test_a_forwarded_link_and_a_reminder_reach_the_integration_as_documented(
    app, client, api_token, iop_data, smtp_server
):
    endpoint_id, _ = add_endpoint(app, "https://crm.example.se/hooks", ["link.forwarded", "reminder.sent"])
    agreement_id, links = create_and_send(client, api_token, iop_data)
    x = app.extensions
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with x["db"].session() as session:
        token = links[1]["url"].rsplit("/", 1)[1]
        link, _ = signing.forward(session, serializer, token, "Eva Ek", "eva@forening.example.se", ADMIN, 30)
        party_id = link.party_id
        creator = session.scalars(select(User).where(User.email == "api@example.se")).one()
    mail.remind_by_hand(app, agreement_id, party_id, creator, ADMIN)
    fan_out(app)

    with x["db"].session() as session:
        bodies = session.scalars(select(WebhookDelivery.body).where(WebhookDelivery.endpoint_id == endpoint_id)).all()
    payloads = [json.loads(body) for body in bodies]
    assert [p["type"] for p in payloads] == ["link.forwarded", "reminder.sent"]
    for payload in payloads:
        assert list(payload["data"]) == list(documented(payload)["data"])
        assert payload["data"]["party"] == iop_data["parties"][1]["name"]
    assert payloads[0]["data"]["name"] == "Eva Ek"
