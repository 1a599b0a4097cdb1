"""The signing flow through the real app, database, LibreOffice and job queue."""

import hashlib
import io
import re
import threading
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from service import agreements, final, listing, mail, signing
from service.audit import Actor
from service.formatting import short_date
from service.models import AccessionRecord, AuditEvent, Confirmation, FinalDocument, Party, SigningLink, Version, utcnow

from .helpers import (
    LINK_URL,
    assemble_final,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    decline,
    final_pdf,
    flat,
    handler_of,
    login,
    org_number,
    path_of,
    pdf_text,
    save_artifact,
    swedish_today,
    wait_for,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


OFFICIAL = Actor("user:test@example.se")


def test_skane_iop_signed_by_both_parties(app, client, api_token, iop_data, run_jobs):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert [link["party"] for link in links] == ["Region Skåne", "NÄTVERKET – Idéburen sektor Skåne"]

    page = client.get(path_of(links[0]["url"]))
    html = page.get_data(as_text=True)
    assert "Region Skåne" in html and "Jag har läst avtalet och bekräftar det för Region Skåne" in html
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    first_picture = re.search(r'<img class="page"[^>]* src="([^"]+)"', html).group(1)
    assert client.get(first_picture).mimetype == "image/png"

    assert confirm(client, links[0]["url"], "Kristianstad", "Carl Johan Sonesson").status_code == 200
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "sent"
    assert confirm(client, links[1]["url"], "Malmö", "Birthe Wallin").status_code == 200

    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "completed"
    today = swedish_today()
    assert [p["confirmation"]["place"] for p in status["parties"]] == ["Kristianstad", "Malmö"]
    assert {p["confirmation"]["date"] for p in status["parties"]} == {today.isoformat()}

    pdf = final_pdf(app, client, api_token, agreement_id)
    save_artifact("final-iop-skane.pdf", pdf)
    text = flat(pdf_text(pdf))
    assert f"Kristianstad den {short_date(today)}" in text
    assert f"Malmö den {short_date(today)}" in text
    assert status["pdf_sha256"] in text.replace(" ", "")
    assert "Verifieringsbilaga" in text and "1 750 000 kr" in text

    final = PdfReader(io.BytesIO(pdf))  # PDF/A-2b kept through the merge, the frozen text inside
    assert (final.xmp_metadata.pdfaid_part, final.xmp_metadata.pdfaid_conformance) == ("2", "B")
    assert "/OutputIntents" in final.trailer["/Root"]
    frozen = final.attachments["avtal-version-1.pdf"][0]
    assert hashlib.sha256(frozen).hexdigest() == status["pdf_sha256"]


def test_halland_with_twelve_organisations_and_accession(app, client, api_token, halland_data, run_jobs):
    agreement_id, links = create_and_send(client, api_token, halland_data)
    assert len(links) == 12
    for link in links:
        assert confirm(client, link["url"], "Halmstad").status_code == 200
    first = flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))
    assert first.count("Bekräftat elektroniskt") == 12
    assert all(flat(p["name"]) in first for p in halland_data["parties"])

    # A newcomer joins: its confirmation is a record of its own, the signed final PDF stays as it is.
    newcomer = dict(halland_data["parties"][1], name="Nya Föreningen i Varberg", org_number=org_number("802479456"))
    added = client.post(f"/api/agreements/{agreement_id}/parties", json=newcomer, headers=bearer(api_token))
    assert added.status_code == 201, added.json
    assert confirm(client, added.json["links"][0]["url"], "Varberg").status_code == 200
    wait_for(lambda: count(app, AccessionRecord, AccessionRecord.agreement_id == agreement_id) == 1)
    record = client.get(f"/api/agreements/{agreement_id}/records/1.pdf", headers=bearer(api_token))
    assert "Nya Föreningen i Varberg" in flat(pdf_text(record.data)) and "Varberg" in flat(pdf_text(record.data))
    assert count(app, FinalDocument, FinalDocument.agreement_id == agreement_id) == 1
    assert "Nya Föreningen i Varberg" not in flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))


def test_concurrent_confirmations_of_one_link_give_exactly_one(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    url = links[0]["url"]
    clients = [app.test_client() for _ in range(6)]
    forms = []
    for c in clients:
        html = c.get(path_of(url)).get_data(as_text=True)
        forms.append(
            {"csrf_token": csrf_token(html), "signer_name": "A", "signer_title": "", "place": "Lund", "accept": "ja"}
        )
    statuses = []
    barrier = threading.Barrier(len(clients))

    def post(c, form):
        barrier.wait()
        statuses.append(c.post(path_of(url) + "/bekrafta", data=form).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 5
    assert count(app, Confirmation) == 1


def test_replayed_link_says_who_confirmed_and_changes_nothing(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad", "Carl Johan Sonesson").status_code == 200
    again = client.get(path_of(links[0]["url"]))
    assert again.status_code == 409
    replayed = flat(again.get_data(as_text=True))
    assert "Carl Johan Sonesson bekräftade" in replayed and "med ort Kristianstad" in replayed
    assert iop_data["title"] in replayed and "Visa kvittot" in replayed
    before = count(app, AuditEvent)
    replay = client.post(
        path_of(links[0]["url"]) + "/bekrafta", data={"place": "Ystad", "signer_name": "X", "accept": "ja"}
    )
    assert replay.status_code in (400, 409)  # without a fresh CSRF token the form is refused outright
    assert count(app, Confirmation) == 1 and count(app, AuditEvent) == before


def test_expired_link(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    page = client.get(path_of(links[0]["url"]))
    assert page.status_code == 410
    assert "Kontakta handläggaren som skickade avtalet och be om en ny länk" in page.get_data(as_text=True)
    assert count(app, Confirmation) == 0


def test_revoked_link_after_reissue(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        link = session.scalars(select(SigningLink).order_by(SigningLink.id)).first()
        version = signing.latest_version(session, agreement_id)
        new_token = signing.issue_link(
            session, signing.link_serializer(app.config["SECRET_KEY"]), link.party, version, 30, OFFICIAL
        ).token
    old = client.get(path_of(links[0]["url"]))
    assert old.status_code == 410 and "återkallat" in old.get_data(as_text=True)
    assert client.get(f"/sign/{new_token}").status_code == 200


def test_tampered_and_unknown_tokens_get_a_plain_invalid_page(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    token = path_of(links[0]["url"])[len("/sign/") :]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (tampered, token[:20], "x", "eyJsIjoxfQ.abc"):
        page = client.get(f"/sign/{bad}")
        assert page.status_code == 404
        html = page.get_data(as_text=True)
        assert "Ogiltig länk" in html and "Traceback" not in html and "Region Skåne" not in html


def test_changed_text_makes_old_links_outdated(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    iop_data["notice_months"] = 6
    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, iop_data, handler_of(session, agreement_id), OFFICIAL
        )
    outdated = client.get(path_of(links[1]["url"]))
    assert outdated.status_code == 410 and "Avtalstexten har ändrats" in outdated.get_data(as_text=True)

    resent = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token)).json
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["version"] == 2 and all(p["status"] == "pending" for p in status["parties"])
    assert confirm(client, resent["links"][0]["url"], "Kristianstad").status_code == 200
    assert count(app, AuditEvent, AuditEvent.event == "confirmed") == 2  # version 1's confirmation stays


def test_the_current_version_is_the_latest_in_progress_lists_and_api(app, client, api_token, iop_data):
    """signing.current_version_id: a confirmation of an earlier version no longer counts anywhere."""
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        assert listing.progress(session, agreement) == (1, 2)
        official = handler_of(session, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, {**iop_data, "notice_months": 6}, official, OFFICIAL
        )
    resent = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(api_token)).json

    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        assert signing.latest_version(session, agreement_id).number == 2
        assert listing.progress(session, agreement) == (0, 2)
    assert client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json["version"] == 2
    for link, place in zip(resent["links"], ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        assert listing.progress(session, agreement) == (2, 2) and signing.all_confirmed(session, agreement)


def test_confirmation_needs_place_and_consent(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    response = confirm(client, links[0]["url"], place="", accept=None)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Ort måste fyllas i." in html
    assert "Kryssa i att du har läst avtalet och har rätt att bekräfta det för organisationen." in html
    assert count(app, Confirmation) == 0
    assert client.get(path_of(links[0]["url"])).status_code == 200  # still usable


def test_decline_with_reason(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    response = decline(client, links[1]["url"], "Beloppet är fel.")
    assert response.status_code == 200
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    assert status["status"] == "declined"
    assert status["parties"][1]["status"] == "declined"
    assert status["parties"][1]["confirmation"]["reason"] == "Beloppet är fel."


def reissue(app, agreement_id, position) -> str:
    """A new link for the party at `position`, as the official's 'Ny länk' gives it: its URL."""
    with app.extensions["db"].session() as session:
        party = signing.active_parties(session, session.get(agreements.Agreement, agreement_id))[position]
        serializer = signing.link_serializer(app.config["SECRET_KEY"])
        official = handler_of(session, agreement_id)
        return "/sign/" + signing.reissue_link(session, serializer, party, 30, official, OFFICIAL).token


def state(app, client, api_token, agreement_id):
    """What the official and the archive see: status, progress, each party's status, finals waiting."""
    shown = client.get(f"/api/agreements/{agreement_id}", headers=bearer(api_token)).json
    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        progress = listing.progress(session, agreement)
        missing = final.agreements_missing_final(session)
    return shown["status"], progress, [p["status"] for p in shown["parties"]], agreement_id in missing


def test_the_latest_answer_counts_when_a_decline_is_followed_by_a_confirmation(
    app, client, api_token, iop_data, run_jobs
):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert decline(client, links[0]["url"], "Beloppet är fel.").status_code == 200
    assert state(app, client, api_token, agreement_id) == ("declined", (0, 2), ["declined", "pending"], False)

    assert confirm(client, reissue(app, agreement_id, 0), "Kristianstad", "Carl Johan Sonesson").status_code == 200
    assert state(app, client, api_token, agreement_id) == ("sent", (1, 2), ["confirmed", "pending"], False)

    assert confirm(client, links[1]["url"], "Malmö", "Birthe Wallin").status_code == 200
    assert state(app, client, api_token, agreement_id)[:3] == ("completed", (2, 2), ["confirmed", "confirmed"])
    text = flat(pdf_text(final_pdf(app, client, api_token, agreement_id)))
    assert "Carl Johan Sonesson" in text and "Birthe Wallin" in text


def test_the_latest_answer_counts_when_a_confirmation_is_followed_by_a_decline(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    assert decline(client, reissue(app, agreement_id, 0), "Vi ångrar oss.").status_code == 200
    assert confirm(client, links[1]["url"], "Malmö").status_code == 200

    assert state(app, client, api_token, agreement_id) == ("declined", (1, 2), ["declined", "confirmed"], False)
    assert count(app, FinalDocument) == 0


def test_reminders_follow_the_latest_answer(app, client, api_token, iop_data, smtp_server):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert decline(client, links[0]["url"], "Beloppet är fel.").status_code == 200
    soon, issued = utcnow() + timedelta(days=1), utcnow() - timedelta(days=29)  # issued long before its last day
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).values(expires_at=soon, created_at=issued))
    assert mail.send_reminders(app) == 0  # declined: nobody is waited for

    assert confirm(client, reissue(app, agreement_id, 0), "Kristianstad").status_code == 200
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).values(expires_at=soon, created_at=issued))
    assert mail.send_reminders(app) == 1  # the other party is waited for again
    reminded = [m["To"] for m in smtp_server.messages if m["Subject"].startswith("Påminnelse")]
    assert reminded == [iop_data["parties"][1]["contact_email"]]


def test_final_job_finishes_after_a_restart(app, client, api_token, iop_data, office, tmp_path, monkeypatch):
    from service import create_app

    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    assert app.extensions["jobs"].pending() == 1  # queued; no consumer ran in this "process"

    restarted = create_app({"TESTING": True}, office=office)  # same instance: same database, same queue
    restarted.extensions["jobs"].start_consumer()
    try:
        text = flat(pdf_text(final_pdf(restarted, restarted.test_client(), api_token, agreement_id)))
    finally:
        restarted.extensions["jobs"].stop_consumer()
    assert "Malmö den" in text
    assert count(app, FinalDocument) == 1


def test_the_open_link_rule_in_sql_and_in_python_agree(app, client, api_token, halland_data):
    """Every combination of used, revoked and expired, judged by link_is_open and is_open."""
    create_and_send(client, api_token, halland_data)
    now = utcnow()
    states = [(used, revoked, expired) for used in (0, 1) for revoked in (0, 1) for expired in (0, 1)]
    with app.extensions["db"].session() as session:
        every = session.scalars(select(SigningLink).order_by(SigningLink.id)).all()
        for link, (used, revoked, expired) in zip(every, states):
            link.used_at = now if used else None
            link.revoked_at = now if revoked else None
            link.expires_at = now - timedelta(minutes=1) if expired else now + timedelta(days=1)
        session.flush()
        in_sql = set(session.scalars(select(SigningLink.id).where(signing.link_is_open(now))))
        in_python = {link.id for link in session.scalars(select(SigningLink)) if signing.is_open(link, now)}
    assert in_sql == in_python == {every[0].id} | {link.id for link in every[len(states) :]}


def test_a_new_version_voids_the_answers_and_every_party_hears_of_it(app, client, make_user, iop_data, smtp_server):
    from service import users

    official, password = make_user("official")
    with app.extensions["db"].session() as session:
        token = users.issue_api_token(session, session.merge(official))
    login(client, official.email, password)
    agreement_id, links = create_and_send(client, token, iop_data)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    assert decline(client, links[1]["url"], "Uppsägningstiden är för lång.").status_code == 200

    form = client.get(f"/avtal/{agreement_id}/redigera").get_data(as_text=True)
    assert "Då gäller inte längre 1 bekräftelse och 1 avböjande" in flat(form)
    assert "Region Skåne: bekräftade version 1" in flat(form)
    assert "NÄTVERKET – Idéburen sektor Skåne: avböjde version 1" in flat(form)

    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        actor = Actor(f"user:{official.id} {official.email}")
        agreements.update_draft(
            session, app.extensions["files"], agreement, {**iop_data, "notice_months": 6}, official, actor
        )
    with app.extensions["db"].session() as session:
        voided = session.scalars(select(AuditEvent).where(AuditEvent.event == "answer_voided")).all()
        assert sorted((e.details["party"], e.details["decision"], e.details["version"]) for e in voided) == [
            ("NÄTVERKET – Idéburen sektor Skåne", "declined", 1),
            ("Region Skåne", "confirmed", 1),
        ]
    old = client.get(path_of(links[0]["url"]))
    text = flat(old.get_data(as_text=True))
    assert old.status_code == 410 and "redan bekräftat" not in text
    assert "Region Skåne bekräftade version 1" in text and "Det svaret gäller inte längre" in text

    show = client.get(f"/avtal/{agreement_id}").get_data(as_text=True)
    sent = client.post(
        f"/avtal/{agreement_id}/skicka",
        data={"csrf_token": csrf_token(show), "change_note": "Uppsägningstiden är nu 6 månader."},
    )
    assert sent.status_code == 200
    invitations = [m for m in smtp_server.messages if "bekräfta" in m["Subject"]]
    by_party = {m["To"].addresses[0].addr_spec: m for m in invitations}
    assert len(invitations) == 2 and set(by_party) == {p["contact_email"] for p in iop_data["parties"]}
    for party, earlier in zip(iop_data["parties"], ("Er bekräftelse", "Ert avböjande")):
        message = by_party[party["contact_email"]]
        assert message["Subject"].startswith("Avtalet har ändrats – version 2 att bekräfta")
        body = flat(message.get_content())
        assert "Det här har ändrats: Uppsägningstiden är nu 6 månader." in body
        assert f"{earlier} av version 1 gäller inte längre." in body
        new_link = LINK_URL.search(message.get_content()).group()
        page = flat(client.get(path_of(new_link)).get_data(as_text=True))
        assert "Det här är version 2 av avtalet" in page and "Uppsägningstiden är nu 6 månader." in page
        assert confirm(client, new_link, "Malmö").status_code == 200

    again = flat(client.get(path_of(links[1]["url"])).get_data(as_text=True))
    assert "Nu gäller version 2" in again and "Avtalet har ändrats – version 2 att bekräfta" in again
    status = client.get(f"/api/agreements/{agreement_id}", headers=bearer(token)).json
    assert status["status"] == "completed" and [p["confirmation"]["version"] for p in status["parties"]] == [2, 2]
    document = assemble_final(app, agreement_id)
    appendix = flat(pdf_text(app.extensions["files"].get(document.sha256)))
    assert "Avböjt, version 1" in appendix and "Svaret gäller inte längre (texten ändrades), version 1" in appendix


def test_without_email_the_api_names_the_parties_who_must_be_told(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    assert [link["version"] for link in links] == [1, 1] and all(link["earlier_answer"] is None for link in links)
    assert confirm(client, links[0]["url"], "Kristianstad").status_code == 200
    with app.extensions["db"].session() as session:
        agreement = session.get(agreements.Agreement, agreement_id)
        official = handler_of(session, agreement_id)
        agreements.update_draft(
            session, app.extensions["files"], agreement, {**iop_data, "notice_months": 6}, official, OFFICIAL
        )
    resent = client.post(
        f"/api/agreements/{agreement_id}/send",
        json={"change_note": "Kortare uppsägningstid."},
        headers=bearer(api_token),
    ).json
    assert [(link["version"], link["earlier_answer"]) for link in resent["links"]] == [(2, "confirmed"), (2, None)]
    refused = client.post(
        f"/api/agreements/{agreement_id}/send", json={"change_note": "Rad ett\nrad två"}, headers=bearer(api_token)
    )
    assert refused.status_code == 422 and "radbrytningar" in refused.json["message"]


@pytest.mark.slow
def test_a_partys_download_of_the_frozen_pdf_is_audited_once_a_day(app, client, api_token, iop_data):
    _, links = create_and_send(client, api_token, iop_data)
    for _ in range(5):
        response = client.get(path_of(links[0]["url"]) + "/avtal.pdf")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert count(app, AuditEvent, AuditEvent.event == "downloaded") == 1


def test_the_signing_order_rule():
    kinds = ["offentlig", "idéburen", "idéburen", "offentlig"]
    parties = [Party(id=10 + i, position=i, name=f"P{i}") for i in range(4)]
    parties.append(Party(id=99, position=4, name="Ansluten senare"))  # not in the version's text

    def waiting(order, confirmed=()):
        version = Version(signing_order=order, data={"parties": [{"kind": kind} for kind in kinds]})
        held = signing.waiting_for(version, parties, set(confirmed))
        return {party_id: [p.name for p in before] for party_id, before in held.items()}

    assert waiting("together") == {}
    assert waiting("region_last") == {10: ["P1", "P2"], 13: ["P1", "P2"]}
    assert waiting("region_last", {11}) == {10: ["P2"], 13: ["P2"]}
    assert waiting("region_last", {11, 12}) == {}
    assert waiting("in_order") == {11: ["P0"], 12: ["P1"], 13: ["P2"]}
    assert waiting("in_order", {10, 11}) == {13: ["P2"]}
    assert waiting("in_order", {10, 11, 12}) == {}
