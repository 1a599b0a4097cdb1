"""The official's day (issue 21): careful declines, what the handläggare hear, reminders,
forwarding to the person who may sign, starting fast. Real SMTP on loopback reads the mail."""

import io
import re
from datetime import datetime, timedelta
from functools import partial

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from service import agreements, forms, mail, signing, starting_text
from service.audit import Actor
from service.models import Agreement, AgreementHandler, AuditEvent, Confirmation, Party, SigningLink, User, Version

from .helpers import (
    LINK_URL,
    assemble_final,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    decline,
    field_error,
    flat,
    handler_of,
    login,
    org_number,
    path_of,
    pdf_text,
    post_on_page,
    problem_fields,
    swedish_today,
    user_client,
    visible_text,
    wait_for,
)

pytestmark = pytest.mark.slow  # LibreOffice renders what is sent

OFFICIAL = "api@example.se"  # the api_token fixture's user


def audit_rows(app, agreement_id) -> list[AuditEvent]:
    with app.extensions["db"].session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.agreement_id == agreement_id)))


def events(app, agreement_id, name) -> list[dict]:
    return [row.details for row in audit_rows(app, agreement_id) if row.event == name]


# --- 4. declining as carefully as confirming ---


def test_a_decline_asks_once_more_and_stores_nothing_until_it_is_sure(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    asked = decline(client, links[1]["url"], "Beloppet är fel.", sure="")
    assert asked.status_code == 200
    shown = visible_text(asked)
    assert "Är du säker?" in shown and "Bertil Berg, Ordförande" in shown and "Beloppet är fel." in shown
    assert count(app, Confirmation) == 0
    with app.extensions["db"].session() as session:
        assert session.scalars(select(SigningLink.used_at)).all() == [None, None]
    assert client.get(path_of(links[1]["url"])).status_code == 200  # the link still works


def test_a_decline_is_recorded_with_the_person_and_shown_back_as_a_receipt(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    response = decline(client, links[1]["url"], "Beloppet är fel.", name="Cecilia Ek", title="Kassör")
    assert response.status_code == 200
    shown = visible_text(response)
    assert "Avböjt av Cecilia Ek, Kassör" in shown and "Motivering Beloppet är fel." in shown
    with app.extensions["db"].session() as session:
        answer = session.scalar(select(Confirmation))
        assert (answer.decision, answer.signer_name, answer.signer_title, answer.reason) == (
            "declined",
            "Cecilia Ek",
            "Kassör",
            "Beloppet är fel.",
        )
    [event] = events(app, agreement_id, "declined")
    assert (event["name"], event["title"], event["reason"]) == ("Cecilia Ek", "Kassör", "Beloppet är fel.")
    receipt = client.get(path_of(links[1]["url"]) + "/kvitto")
    assert "Avböjt av Cecilia Ek, Kassör" in visible_text(receipt)
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "declined"


def test_a_decline_needs_a_name_and_a_title_but_no_reason(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    url = links[0]["url"]
    for typed, field in (({"name": ""}, "decline_name"), ({"title": "  "}, "decline_title")):
        response = decline(client, url, "Nej.", **typed)
        assert response.status_code == 400
        assert field_error(response.get_data(as_text=True), field).startswith(("Namn ", "Titel "))
    assert count(app, Confirmation) == 0
    assert decline(client, url, "").status_code == 200  # a reason is welcome, not required
    with app.extensions["db"].session() as session:
        assert session.scalar(select(Confirmation.reason)) == ""


def test_a_decline_copy_goes_to_the_address_given_and_the_officials_hear_at_once(
    app, client, api_token, iop_data, smtp_server, make_user
):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    colleague, _ = make_user("official", "kollega@example.se")
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        official = agreements.handlers(session, agreement)[0]
        agreements.add_handler(session, agreement, colleague.email, official, Actor("test"))
        agreements.set_notify(session, agreement, colleague, "completion", Actor("test"))
    for bad in ("a@b.se, c@d.se", "styrelsen"):
        refused = decline(client, links[1]["url"], "", receipt_email=bad)
        assert refused.status_code == 400
        assert field_error(refused.get_data(as_text=True), "decline_receipt_email").startswith("Skriv en e-postadress")
    assert count(app, Confirmation) == 0 and smtp_server.messages == []
    response = decline(client, links[1]["url"], "Vi har inte styrelsebeslut.", receipt_email="styrelsen@example.se")
    assert response.status_code == 200
    assert "En kopia av ert svar skickas till styrelsen@example.se" in visible_text(response)
    messages = {m["To"]: m for m in smtp_server.messages}
    assert sorted(messages) == sorted([OFFICIAL, "kollega@example.se", "styrelsen@example.se"])
    copy = messages["styrelsen@example.se"]
    assert copy["Subject"] == f"Kopia av ert svar: {iop_data['title']}"
    assert "Avböjt av: Bertil Berg, Ordförande" in copy.get_content()
    assert "Motivering: Vi har inte styrelsebeslut." in copy.get_content()
    for official in (OFFICIAL, "kollega@example.se"):  # a decline reaches every handläggare
        text = messages[official].get_content()
        assert f"{app.config['PUBLIC_URL']}/avtal/{agreement_id}" in text
        assert "Avböjt av: Bertil Berg, Ordförande" in text and iop_data["parties"][1]["name"] in text


# --- 1. what the handläggare hear ---


def test_each_handläggare_hears_of_a_confirmation_as_chosen(app, client, api_token, iop_data, smtp_server, make_user):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    quiet, _ = make_user("official", "tyst@example.se")
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        official = agreements.handlers(session, agreement)[0]
        agreements.add_handler(session, agreement, quiet.email, official, Actor("test"))
        agreements.set_notify(session, agreement, quiet, "completion", Actor("test"))
    confirmed = confirm(client, links[0]["url"], "Kristianstad", name="Anna Andersson", title="Regiondirektör")
    assert confirmed.status_code == 200
    [message] = [m for m in smtp_server.messages if m["To"] in (OFFICIAL, "tyst@example.se")]
    assert message["To"] == OFFICIAL
    party = iop_data["parties"][0]["name"]
    assert message["Subject"] == f"Bekräftat av {party}: {iop_data['title']}"
    text = message.get_content()
    assert "Bekräftat av: Anna Andersson, Regiondirektör" in text and "Ort: Kristianstad" in text
    assert "Tidpunkt: " in text and f"/avtal/{agreement_id}" in text
    assert events(app, agreement_id, "notify_changed") == [{"email": "tyst@example.se", "choice": "completion"}]


def test_the_final_pdf_reaches_the_handläggare_and_registraturen_with_the_diarienummer(
    app, client, api_token, iop_data, smtp_server, run_jobs
):
    app.config["REGISTRY_EMAIL"] = "registrator@region.example.se"
    agreement_id, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        session.get(Agreement, agreement_id).registry_email = "diarium@forvaltning.example.se"
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    wait_for(lambda: len([m for m in smtp_server.messages if "slutligt avtal" in m["Subject"].lower()]) == 3)
    final_pdf = client.get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token)).data
    by_address = {m["To"]: m for m in smtp_server.messages if "slutligt avtal" in m["Subject"].lower()}
    dnr = iop_data["registration_number"]
    assert by_address[OFFICIAL]["Subject"] == f"Slutligt avtal klart: {iop_data['title']}"
    for registry in ("registrator@region.example.se", "diarium@forvaltning.example.se"):
        assert by_address[registry]["Subject"] == f"{dnr} – slutligt avtal: {iop_data['title']}"
    for message in by_address.values():
        (attached,) = list(message.iter_attachments())
        assert attached.get_content() == final_pdf
    sent = [e["email"] for e in events(app, agreement_id, "sent_to_registry")]
    assert sent == ["registrator@region.example.se", "diarium@forvaltning.example.se"]


def test_a_final_pdf_larger_than_the_setting_is_linked_not_attached(
    app, client, api_token, iop_data, smtp_server, run_jobs
):
    app.config["MAIL_ATTACH_MAX_BYTES"] = 1000
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link in links:
        assert confirm(client, link["url"], "Malmö").status_code == 200
    wait_for(lambda: any(m["Subject"].startswith("Slutligt avtal klart") for m in smtp_server.messages))
    [message] = [m for m in smtp_server.messages if m["Subject"].startswith("Slutligt avtal klart")]
    assert list(message.iter_attachments()) == []
    assert f"{app.config['PUBLIC_URL']}/avtal/{agreement_id}/slutlig/1.pdf" in message.get_content()


def test_a_handläggare_chooses_what_to_hear_and_the_registry_address_on_the_agreement_page(app, make_user, iop_data):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    bertil, _ = user_client(app, make_user, "official", "bertil@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    page_url = f"/avtal/{agreement_id}"
    page = visible_text(anna.get(page_url))
    assert "E-post till dig om avtalet" in page and "Registratur" in page and "Redigera" in page
    assert post_on_page(anna, page_url, page_url + "/aviseringar", notify="daily").status_code == 302
    assert "Sparat. E-post om avtalet: en sammanfattning per dag." in visible_text(anna.get(page_url))
    for bad in ("never", ""):
        assert post_on_page(anna, page_url, page_url + "/aviseringar", notify=bad).status_code == 302
        assert "Välj ett av alternativen" in visible_text(anna.get(page_url))
    with app.extensions["db"].session() as session:
        assert session.scalar(select(AgreementHandler.notify)) == "daily"

    for bad in ("a@b.se, c@d.se", "registrator", "Reg <reg@region.se>"):
        post_on_page(anna, page_url, page_url + "/registratur", registry_email=bad)
        assert "Skriv en e-postadress som registrator@region.se" in visible_text(anna.get(page_url))
    post_on_page(anna, page_url, page_url + "/registratur", registry_email="diarium@region.example.se")
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).registry_email == "diarium@region.example.se"
    assert [e["email"] for e in events(app, agreement_id, "registry_email_set")] == ["diarium@region.example.se"]

    seen_by_bertil = visible_text(bertil.get(page_url))  # not its handläggare: offered nothing he may not do
    for action in ("Redigera", "E-post till dig om avtalet", "Registraturens e-postadress"):
        assert action not in seen_by_bertil
    assert post_on_page(bertil, page_url, page_url + "/registratur", registry_email="x@example.se").status_code == 302
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).registry_email == "diarium@region.example.se"


# --- 2. real reminders ---


def swedish_day(days_from_today=0):
    return swedish_today() + timedelta(days=days_from_today)


def send_on_page(app, browser, agreement_id, **typed):
    page_url = f"/avtal/{agreement_id}"
    return post_on_page(browser, page_url, page_url + "/skicka", **typed)


def test_sending_with_a_message_and_a_last_day_shows_both_in_the_invitation_and_on_the_page(
    app, client, make_user, iop_data, smtp_server
):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    last_day = swedish_day(10)
    message = "Hej! Vi behöver ert svar före styrelsemötet.\nRing mig vid frågor."
    sent = send_on_page(app, anna, agreement_id, message=message, answer_by=last_day.isoformat(), remind_every_days="3")
    assert sent.status_code == 200
    party = iop_data["parties"][0]
    [invitation] = [m for m in smtp_server.messages if m["To"] == party["contact_email"]]
    text = invitation.get_content().replace("\r\n", "\n")
    assert f"Meddelande från anna@example.se:\n{message}" in text
    assert f"Sista dag att svara: {last_day.isoformat()}" in text
    page = client.get(path_of(LINK_URL.search(text).group()))
    shown = visible_text(page)
    assert f"Sista dag att svara {last_day.isoformat()}" in shown and "Ring mig vid frågor." in shown
    with app.extensions["db"].session() as session:
        link = session.scalars(select(SigningLink)).first()
        assert link.expires_at == signing.end_of_day(last_day)
    [frozen] = events(app, agreement_id, "version_frozen")
    assert frozen["answer_by"] == last_day.isoformat() and frozen["remind_every_days"] == 3
    assert frozen["message"] == message


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ({"answer_by": "yesterday"}, "Sista dag att svara har redan varit"),
        ({"answer_by": "31/3"}, "Skriv sista dag att svara som ÅÅÅÅ-MM-DD"),
        ({"answer_by": "far"}, "Sista dag att svara kan vara högst 30 dagar fram"),
        ({"remind_every_days": "0"}, "Påminn var 1–60:e dag"),
        ({"remind_every_days": "-2"}, "Påminn var 1–60:e dag"),
        ({"remind_every_days": "tre"}, "Påminn var 1–60:e dag"),
        ({"message": "x" * 2001}, "Meddelandet"),
        ({"signing_order": "backwards"}, "Välj en ordning för länkarna"),
    ],
)
def test_bad_sending_terms_send_nothing_and_change_nothing(app, make_user, iop_data, smtp_server, typed, said):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    days = {"yesterday": swedish_day(-1).isoformat(), "far": swedish_day(31).isoformat()}
    typed = {key: days.get(value, value) for key, value in typed.items()}
    assert send_on_page(app, anna, agreement_id, **typed).status_code == 302
    assert said in visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert count(app, Version) == 0 and count(app, SigningLink) == 0 and smtp_server.messages == []
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).status == "draft"


def sent_with_terms(app, iop_data, terms):
    """An IOP sent by the api_token fixture's official with these sending terms: (agreement id, issued links)."""
    x = app.extensions
    with x["db"].session() as session:
        user = session.scalar(select(User).where(User.email == OFFICIAL))
        agreement_id = agreements.create_draft(session, x["files"], iop_data, user, Actor("test")).id
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    _, issued = agreements.send_for_signature(
        x["db"], x["files"], x["office"], x["seal"], serializer, agreement_id, 30, user, Actor("test"), terms=terms
    )
    return agreement_id, issued


def shift_links(app, **moves):
    """Move every link's timestamps by the given timedeltas (created_at=-2 days: issued two days ago)."""
    with app.extensions["db"].session() as session:
        for link in session.scalars(select(SigningLink)):
            for column, delta in moves.items():
                if getattr(link, column) is not None:
                    setattr(link, column, getattr(link, column) + delta)


def reminders(inbox) -> list:
    return [m for m in inbox.messages if m["Subject"].startswith("Påminnelse: ")]


def test_reminders_go_at_the_cadence_and_before_the_last_day_never_to_answered_or_revoked_links(
    app, client, api_token, iop_data, smtp_server
):
    last_day = swedish_day(20)
    agreement_id, issued = sent_with_terms(app, iop_data, agreements.SendingTerms("", last_day, 2))
    assert mail.send_reminders(app) == 0  # just sent
    assert confirm(client, f"/sign/{issued[0].token}", "Kristianstad").status_code == 200
    shift_links(app, created_at=-timedelta(days=2))
    assert mail.send_reminders(app) == 1  # the cadence: two days since it was issued; the answered one is not
    [reminder] = reminders(smtp_server)
    assert reminder["To"] == issued[1].party.contact_email
    assert reminder["Subject"] == f"Påminnelse: {iop_data['title']}"
    text = reminder.get_content()
    assert "Det här är en påminnelse." in text and f"Sista dag att svara: {last_day.isoformat()}" in text
    assert mail.send_reminders(app) == 0  # not again the same day
    shift_links(app, reminded_at=-timedelta(days=2))
    assert mail.send_reminders(app) == 1  # two days since the last reminder
    assert len(events(app, agreement_id, "reminder_sent")) == 2

    with app.extensions["db"].session() as session:  # revoked: never reminded again
        for party in session.scalars(select(Party)):
            signing.revoke(session, party, handler_of(session, party.agreement_id), Actor("test"))
    shift_links(app, reminded_at=-timedelta(days=5))
    assert mail.send_reminders(app) == 0 and len(reminders(smtp_server)) == 2


def test_without_a_cadence_a_link_is_reminded_once_before_its_last_day(app, api_token, iop_data, smtp_server):
    agreement_id, issued = sent_with_terms(app, iop_data, agreements.SendingTerms("", swedish_day(20), None))
    shift_links(app, created_at=-timedelta(days=10))
    assert mail.send_reminders(app) == 0  # a cadence was not chosen, the last day is far
    shift_links(app, expires_at=-timedelta(days=16))  # the last day is four days away
    assert mail.send_reminders(app) == 2
    assert mail.send_reminders(app) == 0
    assert sorted(m["To"] for m in reminders(smtp_server)) == sorted(p["contact_email"] for p in iop_data["parties"])


def test_an_outdated_link_is_never_reminded(app, api_token, iop_data, smtp_server):
    agreement_id, _ = sent_with_terms(app, iop_data, agreements.SendingTerms("", None, 1))
    with app.extensions["db"].session() as session:  # the text is edited: the links are outdated
        agreement = session.get(Agreement, agreement_id)
        official = handler_of(session, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, dict(agreement.data), official, Actor("test")
        )
    shift_links(app, created_at=-timedelta(days=3), expires_at=-timedelta(days=28))
    assert mail.send_reminders(app) == 0 and reminders(smtp_server) == []


def test_an_official_reminds_a_party_by_hand_and_not_one_that_answered(app, client, make_user, iop_data, smtp_server):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id, links = create_and_send(anna, token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    page_url = f"/avtal/{agreement_id}"
    assert visible_text(anna.get(page_url)).count("Påminn ") == 1  # only the party still waited for
    with app.extensions["db"].session() as session:
        parties = signing.active_parties(session, session.get(Agreement, agreement_id))
    assert post_on_page(anna, page_url, f"{page_url}/parter/{parties[1].id}/paminn").status_code == 302
    assert f"En påminnelse är skickad till {parties[1].name}" in visible_text(anna.get(page_url))
    post_on_page(anna, page_url, f"{page_url}/parter/{parties[0].id}/paminn")
    assert "Parten har ingen öppen länk som väntar på svar" in visible_text(anna.get(page_url))
    assert [m["To"] for m in reminders(smtp_server)] == [parties[1].contact_email]
    [event] = [e for e in audit_rows(app, agreement_id) if e.event == "reminder_sent"]
    assert event.actor == "user:anna@example.se" and event.details["party"] == parties[1].name


def test_after_the_last_day_the_link_says_so_and_the_officials_are_told_once(
    app, client, api_token, iop_data, smtp_server
):
    last_day = swedish_day(3)
    agreement_id, issued = sent_with_terms(app, iop_data, agreements.SendingTerms("", last_day, None))
    assert confirm(client, f"/sign/{issued[0].token}", "Kristianstad").status_code == 200
    assert mail.send_deadline_notices(app) == 0  # the last day has not passed
    with app.extensions["db"].session() as session:  # four days later
        version = session.scalar(select(Version))
        version.answer_by = swedish_day(-1)
    shift_links(app, expires_at=-timedelta(days=4))
    page = client.get(f"/sign/{issued[1].token}")
    assert page.status_code == 410
    assert f"Sista dag att svara var {swedish_day(-1).isoformat()}" in visible_text(page)
    assert mail.send_deadline_notices(app) == 1
    assert mail.send_deadline_notices(app) == 0  # once
    [notice] = [m for m in smtp_server.messages if m["Subject"].startswith("Sista dag har passerat")]
    assert notice["To"] == OFFICIAL
    text = notice.get_content()
    assert f"- {iop_data['parties'][1]['name']}" in text and iop_data["parties"][0]["name"] not in text
    assert events(app, agreement_id, "deadline_passed") == [{"version": 1, "waiting": [iop_data["parties"][1]["name"]]}]


# --- 3. the link to the right person ---


def forward(client, url, name, email):
    page = client.get(path_of(url))
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), "forward_name": name, "forward_email": email}
    return client.post(path_of(url) + "/skicka-vidare", data=form)


def test_the_invitation_names_the_representative_and_the_party_forwards_to_the_person_who_may_sign(
    app, client, make_user, iop_data, smtp_server
):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    assert send_on_page(app, anna, agreement_id).status_code == 200
    kansli = iop_data["parties"][1]["contact_email"]
    [invitation] = [m for m in smtp_server.messages if m["To"] == kansli]
    assert "Handläggaren har angett Birthe Wallin, Ordförande som företrädare för" in flat(invitation.get_content())
    url = LINK_URL.search(invitation.get_content()).group()
    page = visible_text(client.get(path_of(url)))
    assert "Skicka vidare till den som får skriva under" in page and "angett Birthe Wallin, Ordförande" in page
    smtp_server.messages.clear()

    done = forward(client, url, "Birthe Wallin", "birthe@natverket.example.se")
    assert done.status_code == 200
    assert "Birthe Wallin (birthe@natverket.example.se) har fått en egen länk" in visible_text(done)
    by_address = {m["To"]: m for m in smtp_server.messages}
    assert sorted(by_address) == ["anna@example.se", "birthe@natverket.example.se"]
    mailed = by_address["birthe@natverket.example.se"]
    assert mailed["Subject"] == f"Avtal att bekräfta: {iop_data['title']}"
    assert "Hej Birthe Wallin!" in mailed.get_content() and kansli in flat(mailed.get_content())
    told = by_address["anna@example.se"]
    assert told["Subject"] == f"Skickat vidare av {iop_data['parties'][1]['name']}: {iop_data['title']}"
    assert f"Skickad vidare från: {kansli}" in told.get_content()
    assert "Till: Birthe Wallin <birthe@natverket.example.se>" in told.get_content()

    old = client.get(path_of(url))
    assert old.status_code == 410 and "Länken är skickad vidare till Birthe Wallin" in visible_text(old)
    new_url = LINK_URL.search(mailed.get_content()).group()
    [event] = events(app, agreement_id, "forwarded")
    assert (event["from_email"], event["email"], event["name"]) == (
        kansli,
        "birthe@natverket.example.se",
        "Birthe Wallin",
    )
    assert "Parten skickade vidare länken till Birthe Wallin" in visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert confirm(client, new_url, "Malmö", name="Birthe Wallin").status_code == 200
    assert "Obs!" not in visible_text(anna.get(f"/avtal/{agreement_id}"))  # the named one confirmed


def test_a_confirmation_by_someone_else_than_the_named_representative_is_flagged_on_the_page_and_in_the_appendix(
    app, client, make_user, iop_data
):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id, links = create_and_send(anna, token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad", name="Carl  johan sonesson").status_code == 200
    assert confirm(client, links[1]["url"], "Malmö", name="Kim Kansli", title="Kanslist").status_code == 200
    page = visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert page.count("Obs!") == 1
    assert "Obs! Bekräftat av Kim Kansli; angiven företrädare Birthe Wallin, Ordförande." in page
    document = assemble_final(app, agreement_id)
    appendix = flat(pdf_text(app.extensions["files"].get(document.sha256)))
    assert "Bekräftat av Kim Kansli; angiven företrädare Birthe Wallin, Ordförande" in appendix
    assert "angiven företrädare Carl Johan Sonesson" not in appendix


def test_a_bad_forward_sends_nothing_and_changes_nothing(app, client, api_token, iop_data, smtp_server):
    _, links = create_and_send(client, api_token, iop_data)
    url, kansli = links[1]["url"], iop_data["parties"][1]["contact_email"]
    smtp_server.messages.clear()
    refusals = [
        ("Birthe Wallin", kansli.upper(), "forward_email", "Länken har redan skickats till den adressen"),
        ("Birthe Wallin", "a@b.se, c@d.se", "forward_email", "Skriv en enda e-postadress"),
        ("Birthe Wallin", "a@b.se;c@d.se", "forward_email", "Skriv en enda e-postadress"),
        ("Birthe Wallin", "Birthe <b@natverket.se>", "forward_email", "Skriv en enda e-postadress"),
        ("Birthe Wallin", "birthe", "forward_email", "Skriv en enda e-postadress"),
        ("", "birthe@natverket.example.se", "forward_name", "Namn "),
    ]
    for name, email, field, said in refusals:
        response = forward(client, url, name, email)
        assert response.status_code == 400, email
        assert field_error(response.get_data(as_text=True), field).startswith(said), email
    assert smtp_server.messages == [] and count(app, SigningLink) == 2
    assert count(app, AuditEvent, AuditEvent.event == "forwarded") == 0
    assert client.get(path_of(url)).status_code == 200  # still usable

    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    token = csrf_token(client.get(path_of(url)).get_data(as_text=True))
    smtp_server.messages.clear()
    used = client.post(
        path_of(links[0]["url"]) + "/skicka-vidare",
        data={"csrf_token": token, "forward_name": "X", "forward_email": "x@example.se"},
    )
    assert used.status_code == 409
    with app.extensions["db"].session() as session:
        for party in session.scalars(select(Party)):
            signing.revoke(session, party, handler_of(session, party.agreement_id), Actor("test"))
    revoked = client.post(
        path_of(url) + "/skicka-vidare",
        data={"csrf_token": token, "forward_name": "X", "forward_email": "x@example.se"},
    )
    assert revoked.status_code == 410
    assert smtp_server.messages == [] and count(app, SigningLink) == 2


# --- 5. starting fast ---


def test_kopiera_starts_a_new_draft_with_the_text_and_none_of_the_answers(app, client, make_user, iop_data):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    bertil, _ = user_client(app, make_user, "official", "bertil@example.se")
    agreement_id, links = create_and_send(anna, token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    page_url = f"/avtal/{agreement_id}"
    copied = post_on_page(bertil, page_url, page_url + "/kopiera")  # any official may start from it
    assert copied.status_code == 302
    copy_id = int(copied.headers["Location"].split("/avtal/")[1].split("/")[0])
    assert copy_id != agreement_id
    with app.extensions["db"].session() as session:
        original, copy = session.get(Agreement, agreement_id), session.get(Agreement, copy_id)
        assert copy.status == "draft" and copy.title == f"Kopia av {original.title}"
        assert copy.registration_number == "" and copy.versions == []
        assert {k: v for k, v in copy.data.items() if k not in ("title", "registration_number")} == {
            k: v for k, v in original.data.items() if k not in ("title", "registration_number")
        }
        assert [user.email for user in agreements.handlers(session, copy)] == ["bertil@example.se"]
        assert signing.answers_by_party(session, copy) == {}
        assert original.status == "sent" and len(signing.answers_by_party(session, original)) == 1
    assert events(app, copy_id, "copied") == [{"from_agreement": agreement_id}]
    shown = visible_text(bertil.get(f"/avtal/{copy_id}"))
    assert "Inte skickat" in shown and "Bekräftat" not in shown


def test_the_överenskommelse_form_starts_with_hallands_principles(client, make_user, halland_data):
    product = (starting_text.PRINCIPLES_INTRO, starting_text.PRINCIPLES)  # its own copy of the example
    assert product == (halland_data["principles_intro"], halland_data["principles"])
    fields = forms.to_form(forms.new_agreement("overenskommelse"))
    assert fields["principles-0-heading"] == "Dialog" and fields["principles-5-heading"] == "Kvalitet"
    official, password = make_user("official", "anna@example.se")
    login(client, official.email, password)
    html = client.get("/avtal/ny?typ=overenskommelse").get_data(as_text=True)
    assert "Långsiktighet" in html and "Öppenhet och insyn" in html


def test_the_preview_says_utkast_on_every_page_and_is_not_sealed(app, make_user, iop_data):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    html = anna.get(f"/avtal/{agreement_id}/forhandsgranska").get_data(as_text=True)
    key = re.search(r"/forhandsgranska/([0-9a-f]{64})", html).group(1)
    pdf = anna.get(f"/avtal/{agreement_id}/forhandsgranska/{key}.pdf").data
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 5
    assert all("UTKAST – inte för signering" in page.extract_text() for page in pages)
    assert b"/ByteRange" not in pdf and b"/Sig" not in pdf
    assert "1 750 000 kr" in flat(pdf_text(pdf))  # the text itself is still there


def test_a_daily_summary_instead_of_a_mail_per_answer(app, client, api_token, iop_data, smtp_server):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        official = agreements.handlers(session, agreement)[0]
        agreements.set_notify(session, agreement, official, "daily", Actor("test"))
    assert confirm(client, links[0]["url"], "Kristianstad", name="Carl Johan Sonesson").status_code == 200
    assert [m for m in smtp_server.messages if m["To"] == OFFICIAL] == []  # not one mail per answer
    assert mail.send_daily_summaries(app) == 1
    assert mail.send_daily_summaries(app) == 0  # once a day
    [summary] = [m for m in smtp_server.messages if m["To"] == OFFICIAL]
    assert summary["Subject"] == f"Sammanfattning av svar: {iop_data['title']}"
    assert "- Region Skåne: bekräftat av Carl Johan Sonesson, Ordförande, Kristianstad" in summary.get_content()

    assert confirm(client, links[1]["url"], "Malmö", name="Birthe Wallin").status_code == 200
    with app.extensions["db"].session() as session:  # a day later: the first answer came before the summary
        session.scalar(select(AgreementHandler)).summary_sent_at -= timedelta(days=1)
        first = session.scalars(select(Confirmation).order_by(Confirmation.id)).first()
        first.created_at -= timedelta(days=2)
    assert mail.send_daily_summaries(app) == 1
    text = [m for m in smtp_server.messages if m["To"] == OFFICIAL][-1].get_content()
    assert "Birthe Wallin" in text and "Carl Johan Sonesson" not in text  # only what is new


def test_the_reminder_rule():
    now = datetime(2026, 3, 20, 12)
    due = partial(signing.reminder_due, days_before=5, now=now)
    month_ago, in_two_days = now - timedelta(days=30), now + timedelta(days=2)
    assert due(month_ago, in_two_days, None, None)  # its last day is near
    assert not due(month_ago, in_two_days, now - timedelta(hours=1), None)  # reminded since
    assert due(month_ago, in_two_days, now - timedelta(days=4), 7)  # reminded before the last days began
    assert not due(now - timedelta(hours=1), in_two_days, None, None)  # just sent: the invitation is enough
    assert not due(month_ago, now + timedelta(days=20), None, None)  # far from its last day, no cadence
    assert due(now - timedelta(days=3), now + timedelta(days=20), None, 3)  # the cadence
    assert not due(now - timedelta(days=3), now + timedelta(days=20), now - timedelta(days=2), 3)


# --- 6. the signing order ---


TRYGGHET = "kansli@trygghet.example.se"


def with_second_association(iop_data):
    """Skåne's IOP with a second idéburen party: the region, NÄTVERKET, then Föreningen Trygghet."""
    association = dict(
        iop_data["parties"][1],
        name="Föreningen Trygghet",
        org_number=org_number("802400001"),
        contact_email=TRYGGHET,
        representative={"name": "Cecilia Ek", "title": "Ordförande"},
    )
    iop_data["parties"].append(association)
    return iop_data


def invitations(inbox) -> dict[str, str]:
    """The signing link mailed to each address, by address."""
    return {
        m["To"]: LINK_URL.search(m.get_content()).group()
        for m in inbox.messages
        if m["Subject"].startswith("Avtal att bekräfta")
    }


def test_region_last_mails_the_region_its_link_when_every_idéburen_party_has_confirmed(
    app, client, make_user, iop_data, smtp_server
):
    data = with_second_association(iop_data)
    region, natverket = data["parties"][0], data["parties"][1]
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=data, headers=bearer(token)).json["id"]
    sent = send_on_page(app, anna, agreement_id, signing_order="region_last", message="Välkomna!")
    assert sent.status_code == 200
    assert "Ordning för länkarna: Regionen bekräftar sist." in visible_text(sent)
    assert sorted(invitations(smtp_server)) == sorted([natverket["contact_email"], TRYGGHET])
    page_url = f"/avtal/{agreement_id}"
    page = visible_text(anna.get(page_url))
    assert "Ordning för länkarna Regionen bekräftar sist" in page
    assert f"Väntar på tur Får länken när {natverket['name']} och Föreningen Trygghet har bekräftat" in page

    links = invitations(smtp_server)
    assert confirm(client, links[natverket["contact_email"]], "Malmö").status_code == 200
    assert region["contact_email"] not in invitations(smtp_server)
    assert "Får länken när Föreningen Trygghet har bekräftat" in visible_text(anna.get(page_url))
    assert confirm(client, links[TRYGGHET], "Lund").status_code == 200

    [message] = [m for m in smtp_server.messages if m["To"] == region["contact_email"]]
    assert message["Subject"] == f"Avtal att bekräfta: {data['title']}" and message["Reply-To"] == "anna@example.se"
    text = flat(message.get_content())
    assert "anna@example.se har skickat avtalet" in text and "Meddelande från anna@example.se: Välkomna!" in text
    assert "Väntar på tur" not in visible_text(anna.get(page_url))
    assert confirm(client, invitations(smtp_server)[region["contact_email"]], "Kristianstad").status_code == 200
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).status == "completed"
        assert session.scalars(select(SigningLink.delivery)).all() == ["emailed"] * 3

    [frozen] = events(app, agreement_id, "version_frozen")
    assert frozen["signing_order"] == "region_last"
    issued = [(row.actor, row.details["party"]) for row in audit_rows(app, agreement_id) if row.event == "link_issued"]
    assert issued == [
        ("user:anna@example.se", natverket["name"]),
        ("user:anna@example.se", "Föreningen Trygghet"),
        ("system", region["name"]),
    ]
    assert "Ordning för länkarna Regionen bekräftar sist" in visible_text(anna.get(page_url + "/logg"))


def test_in_order_the_parties_get_their_links_one_at_a_time_and_the_api_answers_with_the_first(
    app, client, api_token, iop_data, smtp_server
):
    data = with_second_association(iop_data)
    agreement_id = client.post("/api/agreements", json=data, headers=bearer(api_token)).json["id"]
    sent = client.post(
        f"/api/agreements/{agreement_id}/send", json={"signing_order": "in_order"}, headers=bearer(api_token)
    )
    assert sent.status_code == 200
    assert [link["party"] for link in sent.json["links"]] == ["Region Skåne"]
    assert invitations(smtp_server) == {}  # links the API answers with are the client's to give
    addresses = [party["contact_email"] for party in data["parties"]]
    url = sent.json["links"][0]["url"]
    for place, following in (("Kristianstad", 1), ("Malmö", 2)):
        assert confirm(client, url, place).status_code == 200
        mailed = invitations(smtp_server)
        assert sorted(mailed) == sorted(addresses[1 : following + 1])  # the next party's, no one's after it
        url = mailed[addresses[following]]
    assert confirm(client, url, "Lund").status_code == 200
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "completed"
    assert events(app, agreement_id, "version_frozen")[0]["signing_order"] == "in_order"


def test_a_waiting_party_gets_no_new_link_and_no_reminder(app, client, make_user, iop_data, smtp_server):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    assert send_on_page(app, anna, agreement_id, signing_order="region_last").status_code == 200
    page_url = f"/avtal/{agreement_id}"
    with app.extensions["db"].session() as session:
        region = signing.active_parties(session, session.get(Agreement, agreement_id))[0]
    shown = visible_text(anna.get(page_url))
    assert "Skicka ny länk till Region Skåne" not in shown and "Påminn Region Skåne" not in shown
    assert f"Skicka ny länk till {iop_data['parties'][1]['name']}" in shown
    smtp_server.messages.clear()
    assert post_on_page(anna, page_url, f"{page_url}/parter/{region.id}/ny-lank").status_code == 302
    said = visible_text(anna.get(page_url))
    assert f"Region Skåne får sin länk när {iop_data['parties'][1]['name']} har bekräftat" in said
    post_on_page(anna, page_url, f"{page_url}/parter/{region.id}/paminn")
    assert "Parten har ingen öppen länk som väntar på svar" in visible_text(anna.get(page_url))
    shift_links(app, created_at=-timedelta(days=26), expires_at=-timedelta(days=26))
    assert mail.send_reminders(app) == 1  # the association's link, near its end; the region has none
    assert [m["To"] for m in smtp_server.messages] == [iop_data["parties"][1]["contact_email"]]
    assert count(app, SigningLink) == 1


def test_a_decline_stops_the_order(app, client, make_user, iop_data, smtp_server):
    data = with_second_association(iop_data)
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=data, headers=bearer(token)).json["id"]
    assert send_on_page(app, anna, agreement_id, signing_order="region_last").status_code == 200
    links = invitations(smtp_server)
    assert decline(client, links[data["parties"][1]["contact_email"]], "Beloppet är fel.").status_code == 200
    assert confirm(client, links[TRYGGHET], "Lund").status_code == 200
    assert data["parties"][0]["contact_email"] not in invitations(smtp_server)
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).status == "declined"
    page = visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert f"Väntar på tur Får länken när {data['parties'][1]['name']} har bekräftat" in page
    assert count(app, SigningLink) == 2


def test_the_api_refuses_an_unknown_signing_order_with_a_problem_document(app, client, api_token, iop_data):
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    for order in ("backwards", "", ["in_order"], 2):
        refused = client.post(
            f"/api/agreements/{agreement_id}/send", json={"signing_order": order}, headers=bearer(api_token)
        )
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
        assert refused.json["code"] == "invalid-input"
        assert problem_fields(refused) == {"#/signing_order": signing.UNKNOWN_ORDER}
    assert count(app, Version) == 0 and count(app, SigningLink) == 0
    described = client.get("/api/openapi.json").json["components"]["schemas"]["SendBody"]["properties"]
    assert described["signing_order"]["enum"] == ["together", "region_last", "in_order"]
    sent = client.post(
        f"/api/agreements/{agreement_id}/send", json={"signing_order": "region_last"}, headers=bearer(api_token)
    )
    assert [link["party"] for link in sent.json["links"]] == [iop_data["parties"][1]["name"]]


def test_a_link_the_order_lets_go_in_a_new_version_says_what_changed_and_that_the_earlier_answer_is_void(
    app, client, make_user, iop_data, smtp_server
):
    region, association = iop_data["parties"]
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id = anna.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    assert send_on_page(app, anna, agreement_id, signing_order="in_order").status_code == 200
    assert confirm(client, invitations(smtp_server)[region["contact_email"]], "Kristianstad").status_code == 200
    declined = decline(client, invitations(smtp_server)[association["contact_email"]], "Beloppet är fel.")
    assert declined.status_code == 200
    smtp_server.messages.clear()

    resent = send_on_page(app, anna, agreement_id, signing_order="region_last", change_note="Beloppet är rättat.")
    assert resent.status_code == 200
    assert list(invitations(smtp_server)) == []  # a new version's subject says so
    [first] = [m for m in smtp_server.messages if m["To"] == association["contact_email"]]
    assert confirm(client, LINK_URL.search(first.get_content()).group(), "Malmö").status_code == 200
    [later] = [m for m in smtp_server.messages if m["To"] == region["contact_email"]]
    assert later["Subject"] == f"Avtalet har ändrats – version 2 att bekräfta: {iop_data['title']}"
    text = flat(later.get_content())
    assert "Det här har ändrats: Beloppet är rättat." in text
    assert "Er bekräftelse av version 1 gäller inte längre." in text
