"""Email through a real SMTP server on loopback: links, reminders, decline notices."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service import agreements, mail
from service.audit import Actor
from service.formatting import local_time
from service.models import AuditEvent, SigningLink, User, utcnow

from .helpers import LINK_URL, bearer, confirm, count, decline, free_port, path_of, send_for_signature

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


OFFICIAL = "api@example.se"  # the api_token fixture's user


def send(app, client, api_token, data):
    """Create a draft through the API and send it the way the web views will: (agreement, issued links)."""
    created = client.post("/api/agreements", json=data, headers=bearer(api_token))
    assert created.status_code == 201, created.json
    return send_for_signature(app, created.json["id"], Actor(f"user:{OFFICIAL}"))


def link_rows(app):
    with app.extensions["db"].session() as session:
        return session.scalars(select(SigningLink).order_by(SigningLink.id)).all()


def expire_links_in(app, link_ids, delta):
    """The links now end within `delta`, having been issued a month before (not just now)."""
    with app.extensions["db"].session() as session:
        session.execute(
            update(SigningLink)
            .where(SigningLink.id.in_(link_ids))
            .values(expires_at=utcnow() + delta, created_at=utcnow() - timedelta(days=30))
        )


def test_one_email_per_party_with_a_working_link(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)

    assert mail.send_link_emails(app, agreement, issued, OFFICIAL) == []

    messages = {m["To"]: m for m in smtp_server.messages}
    assert sorted(messages) == sorted(p["contact_email"] for p in iop_data["parties"])
    expiry = local_time(link_rows(app)[0].expires_at).date().isoformat()
    for link in issued:
        message = messages[link.party.contact_email]
        text = message.get_content()
        assert message["Subject"] == f"Avtal att bekräfta: {agreement.title}"
        assert message["From"] == app.config["MAIL_FROM"] and message["Reply-To"] == OFFICIAL
        assert message["Date"] and message["Message-ID"]
        assert message.get_content_charset() == "utf-8"
        assert f"Länken gäller till {expiry}" in text and OFFICIAL in text and link.party.name in text
        url = LINK_URL.search(text).group()
        assert url.startswith(app.config["PUBLIC_URL"] + "/sign/")
        page = client.get(path_of(url))
        assert page.status_code == 200 and link.party.name in page.get_data(as_text=True)


def test_the_web_view_can_choose_the_link(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)
    mail.send_link_emails(
        app, agreement, issued, OFFICIAL, url_for_token=lambda token: f"https://avtal.example.se/sign/{token}"
    )
    urls = [LINK_URL.search(m.get_content()).group() for m in smtp_server.messages]
    assert len(urls) == 2 and all(u.startswith("https://avtal.example.se/sign/") for u in urls)


def test_without_smtp_host_nothing_is_sent(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)
    app.config["SMTP_HOST"] = ""
    assert mail.send_link_emails(app, agreement, issued, OFFICIAL) == []
    assert mail.send_reminders(app) == 0
    assert smtp_server.messages == []


def test_a_down_smtp_server_loses_nothing(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)
    working_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nothing listens there

    failed = mail.send_link_emails(app, agreement, issued, OFFICIAL)

    assert sorted(failed) == sorted(p["contact_email"] for p in iop_data["parties"])
    assert all(link.used_at is None and link.revoked_at is None for link in link_rows(app))
    for link in issued:
        assert client.get(f"/sign/{link.token}").status_code == 200

    expire_links_in(app, [link.id for link in link_rows(app)], timedelta(days=2))
    assert mail.send_reminders(app) == 0
    assert all(link.reminded_at is None for link in link_rows(app))  # released, so the next sweep tries again
    app.config["SMTP_PORT"] = working_port
    assert mail.send_reminders(app) == 2
    assert len(smtp_server.messages) == 2


def test_reminders_go_once_and_only_for_open_links_near_expiry(app, client, api_token, halland_data, smtp_server):
    agreement, issued = send(app, client, api_token, halland_data)
    links = link_rows(app)
    assert confirm(client, f"/sign/{issued[1].token}", "Halmstad").status_code == 200
    expire_links_in(app, [links[0].id, links[1].id], timedelta(days=2))
    expire_links_in(app, [links[2].id], timedelta(minutes=-1))

    assert mail.send_reminders(app) == 1

    [message] = [m for m in smtp_server.messages if m["Subject"].startswith("Påminnelse")]
    text = message.get_content()
    assert message["To"] == issued[0].party.contact_email
    assert message["Subject"] == f"Påminnelse: {agreement.title}"
    expiry = local_time(utcnow() + timedelta(days=2)).date().isoformat()
    assert f"Länken gäller till {expiry}" in text
    assert f"Be handläggaren {OFFICIAL} om en ny länk" in text
    assert "/sign/" not in text
    assert mail.send_reminders(app) == 0
    assert len([m for m in smtp_server.messages if m["Subject"].startswith("Påminnelse")]) == 1
    assert [link.reminded_at is not None for link in link_rows(app)][:3] == [True, False, False]
    assert count(app, AuditEvent, AuditEvent.event == "reminder_sent") == 1


def test_the_scheduled_sweep_sends_due_reminders(app, client, api_token, iop_data, smtp_server, run_jobs):
    send(app, client, api_token, iop_data)
    expire_links_in(app, [link_rows(app)[0].id], timedelta(days=1))
    run_jobs.sweep()  # what the consumer runs every minute
    assert [m["Subject"] for m in smtp_server.messages] == [f"Påminnelse: {iop_data['title']}"]


def test_two_sweeps_at_once_send_each_reminder_once(app, client, api_token, iop_data, smtp_server):
    send(app, client, api_token, iop_data)
    expire_links_in(app, [link.id for link in link_rows(app)], timedelta(days=1))
    barrier = threading.Barrier(4)
    sent = []

    def sweep():
        barrier.wait()
        sent.append(mail.send_reminders(app))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sent) == 2
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(p["contact_email"] for p in iop_data["parties"])


def test_no_reminder_for_a_declined_agreement(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)
    assert decline(client, f"/sign/{issued[0].token}", "Vi behöver mer tid.").status_code == 200
    expire_links_in(app, [link.id for link in link_rows(app)], timedelta(days=1))
    assert mail.send_reminders(app) == 0


def test_the_official_hears_of_a_decline(app, client, api_token, iop_data, smtp_server):
    agreement, issued = send(app, client, api_token, iop_data)
    reason = "Styrelsen vill ändra avsnittet om resurser & uppföljning."
    assert decline(client, f"/sign/{issued[1].token}", reason).status_code == 200  # the sign page tells the official

    [message] = smtp_server.messages
    text = message.get_content()
    assert message["To"] == OFFICIAL
    assert message["Subject"] == f"Avböjt av {issued[1].party.name}: {agreement.title}"
    assert issued[1].party.name in text and reason in text and agreement.registration_number in text
    assert "Avböjt av: Bertil Berg, Ordförande" in text and "Tidpunkt: " in text
    assert f"{app.config['PUBLIC_URL']}/avtal/{agreement.id}" in text  # the agreement's own page


def test_a_stored_address_list_reaches_nobody_else(app, client, api_token, iop_data, smtp_server):
    with app.extensions["db"].session() as session:  # stored before addresses were checked
        session.add(User(email="first,second@example.se", role="official", password_hash="x"))
    with app.extensions["db"].session() as session:
        creator = session.scalar(select(User).where(User.email == "first,second@example.se"))
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, creator, Actor("system"))
        agreement_id, party = agreement.id, agreement.parties[0]
    assert mail.send_decline_notice(app, agreement, party, "Nej.") == ["first,second@example.se"]
    assert mail.send_final_failed_notice(app, agreement_id) == ["first,second@example.se"]
    assert smtp_server.recipients == []
