"""Email: signing links to the parties, reminders, and decline notices to the official.

Mail goes through smtplib to SMTP_HOST:SMTP_PORT; without SMTP_HOST nothing is sent.
Call these after the transaction that made the links has committed: mail must never
announce links that a rollback took back. A failed send is logged and its address
returned, never raised: the links are in the database whether or not mail got out.
"""

import logging
import smtplib
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import NamedTuple

from sqlalchemy import func, or_, select, update

from . import audit, receipts, signing, status
from .agreements import NOTIFY_CHOICES, handled_agreement, handlers, notice_recipients
from .errors import Conflict, Unavailable
from .formatting import iso_date, local_minute, local_time
from .models import (
    AccessionRecord,
    Agreement,
    AgreementHandler,
    AuditEvent,
    Confirmation,
    FinalDocument,
    Party,
    SigningLink,
    User,
    Version,
    utcnow,
)

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 10
SIGNATURE = "Med vänlig hälsning\nAvtalstjänsten"


def absolute_url(app, path) -> str:
    """A link to `path` on this service, always on PUBLIC_URL: never on a host that a request
    named in its Host header, which an attacker chooses."""
    return app.config["PUBLIC_URL"].rstrip("/") + path


def route_url(app, endpoint, **values) -> str:
    """The URL the router gives `endpoint`, on PUBLIC_URL; needs no request."""
    return absolute_url(app, app.url_map.bind("").build(endpoint, values))


def is_configured(app) -> bool:
    """Whether the service sends email at all (AVTAL_SMTP_HOST). Without it nothing is sent,
    and no page may promise an email."""
    return bool(app.config["SMTP_HOST"])


def sign_link(app, token) -> str:
    """The party's link."""
    return route_url(app, "sign.show", token=token)


def send_link_emails(app, agreement, issued_links, sender, url_for_token=None, change_note="") -> list[str]:
    """Email each party with a contact address its link; returns the addresses that failed.

    `sender` is the official's email address. A link to a second version or later is told as
    such, with `change_note` (the official's sentence on what changed) and, to a party that had
    answered, that its answer no longer counts. Call it after the links' transaction has committed.
    """
    if not is_configured(app):
        return []
    url_for_token = url_for_token or (lambda token: sign_link(app, token))
    messages = [
        Outgoing(
            issued.party.contact_email,
            _link_subject(agreement, issued),
            _link_text(agreement, issued, sender, url_for_token(issued.token), change_note),
            reply_to=sender,
        )
        for issued in issued_links
        if issued.party.contact_email
    ]
    return _deliver(app, messages)


def send_links(app, agreement, issued_links, sender, change_note="") -> dict[int, str]:
    """Email the links (after their transaction has committed) and note on each whether it went:
    by link id, emailed, failed, no_address or no_smtp (nothing is sent without SMTP)."""
    if not is_configured(app):
        return {link.link_id: "no_smtp" for link in issued_links}
    failed = send_link_emails(app, agreement, issued_links, sender, change_note=change_note)
    deliveries = {
        link.link_id: "no_address"
        if not link.party.contact_email
        else ("failed" if link.party.contact_email in failed else "emailed")
        for link in issued_links
    }
    with app.extensions["db"].session() as session:
        signing.record_delivery(session, {i: d for i, d in deliveries.items() if d in ("emailed", "failed")})
    return deliveries


def send_next_links(app, agreement, version, issued_links) -> None:
    """The links the signing order let go after a confirmation, emailed as the invitations of the
    sending were, in the name of the agreement's first handläggare."""
    if not issued_links:
        return
    with app.extensions["db"].session() as session:
        officials = handlers(session, agreement)
    sender = officials[0].email if officials else app.config["MAIL_FROM"]
    send_links(app, agreement, issued_links, sender, version.change_note)


def _link_subject(agreement, issued) -> str:
    if issued.version_number > 1:
        return f"Avtalet har ändrats – version {issued.version_number} att bekräfta: {agreement.title}"
    return f"Avtal att bekräfta: {agreement.title}"


def _revision_text(issued, change_note) -> str:
    """What a party hears of a new version: that the text changed, what changed, and its answer's fate."""
    earlier = issued.version_number - 1
    lines = [f"Avtalstexten har ändrats sedan version {earlier}. Version {issued.version_number} ska bekräftas."]
    if change_note:
        lines.append(f"Det här har ändrats: {change_note}")
    if issued.earlier_answer:
        answered = "Er bekräftelse" if issued.earlier_answer == "confirmed" else "Ert avböjande"
        lines.append(f"{answered} av version {earlier} gäller inte längre. Läs den nya versionen och svara på nytt.")
    lines.append("Länkar till tidigare versioner fungerar inte längre.")
    return "\n\n".join(lines) + "\n\n"


def _terms_text(issued, sender) -> str:
    """The official's personal message and the last day to answer, as the invitation gives them."""
    parts = []
    if issued.message:
        parts.append(f"Meddelande från {sender}:\n{issued.message}")
    if issued.answer_by:
        parts.append(f"Sista dag att svara: {iso_date(issued.answer_by)}")
    return "".join(part + "\n\n" for part in parts)


def _link_text(agreement, issued, sender, url, change_note="") -> str:
    party, expires_at = issued.party, issued.expires_at
    revision = _revision_text(issued, change_note) if issued.version_number > 1 else ""
    return f"""Hej!

{sender} har skickat avtalet "{agreement.title}" till {party.name} för bekräftelse.

{revision}{_terms_text(issued, sender)}\
Öppna länken, läs avtalet och bekräfta det med namn, titel och ort. Datum och tid sätts \
automatiskt. Om ni inte vill ingå avtalet kan ni avböja det på samma sida och skriva varför.

{url}

{_valid_until(expires_at)} och kan bara användas en gång. Den är personlig för {party.name}: \
skicka inte vidare meddelandet.

{_representative_text(agreement, party)}

Har du frågor om avtalet? Svara på det här meddelandet, så når du {sender}.

{SIGNATURE}
"""


def _representative_text(agreement, party) -> str:
    """Who the official named to confirm for the party, and how the link reaches someone else."""
    named = signing.named_representative(agreement, party)
    who = f"Handläggaren har angett {named} som företrädare för {party.name}." if named else ""
    return f"""{who} Avtalet ska bekräftas av den som får företräda {party.name}, som firmatecknare \
eller med fullmakt. Är det någon annan än du? Öppna länken och välj "Skicka vidare till den som \
får skriva under": den personen får då en egen länk, och den här slutar gälla.""".strip()


def send_forwarded_link(app, agreement, issued, url, forwarded_from) -> list[str]:
    """The link a party passed on, to the person who may sign for it."""
    if not is_configured(app):
        return [issued.to]
    party = issued.party
    text = f"""Hej {issued.recipient_name}!

{forwarded_from} har skickat vidare avtalet "{agreement.title}" till dig, för att du ska \
bekräfta det för {party.name}.

{_terms_text(issued, "handläggaren")}Öppna länken, läs avtalet och bekräfta det med namn, titel och ort. \
Om {party.name} inte vill ingå avtalet kan du avböja det på samma sida.

{url}

{_valid_until(issued.expires_at)} och kan bara användas en gång. Den är personlig för dig.

{SIGNATURE}
"""
    return _deliver(app, [Outgoing(issued.to, f"Avtal att bekräfta: {agreement.title}", text)])


def send_forward_notice(app, agreement, party, forwarded_from, issued, failed) -> list[str]:
    """Tell the handläggare that a party passed its link on, from whom to whom."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        recipients = notice_recipients(session, agreement, NOTIFY_CHOICES)
    facts = [
        f"Skickad vidare från: {forwarded_from}",
        f"Till: {issued.recipient_name} <{issued.to}>",
        f"Tidpunkt: {_when(None)}",
    ]
    closing = "Den första länken gäller inte längre. Den nya gäller till " + local_minute(issued.expires_at) + "."
    if failed:
        closing = f"E-post till {issued.to} kunde inte skickas. Skicka en ny länk till parten från avtalets sida."
    text = _answer_notice_text(app, agreement, party, facts, closing)
    subject = f"Skickat vidare av {party.name}: {agreement.title}"
    return _deliver(app, [Outgoing(to, subject, text) for to in recipients])


def _valid_until(expires_at) -> str:
    return "Länken gäller till " + local_time(expires_at).strftime("%Y-%m-%d kl. %H:%M")


def send_reminders(app) -> int:
    """Remind each party whose open, unanswered link is due (signing.reminder_due: before the
    last day, and at the official's cadence); returns how many reminders were sent.

    The reminder cannot carry the link: only a hash of its nonce is stored, so the token
    cannot be rebuilt. It asks the party to use the link in the earlier email, or to
    ask the official for a new one. A link is claimed by an atomic compare-and-set of
    `reminded_at` before mailing, so two sweeps running at once send one reminder; a
    failed send releases the claim and the next sweep tries again.
    """
    if not is_configured(app):
        return 0
    now, days_before = utcnow(), app.config["REMINDER_DAYS_BEFORE"]
    near = or_(SigningLink.expires_at <= now + timedelta(days=days_before), Version.remind_every_days.is_not(None))
    due = [
        row
        for row in _open_unanswered_links(app, now, near)
        if signing.reminder_due(
            row.created_at, row.expires_at, row.reminded_at, row.remind_every_days, days_before, now
        )
    ]
    return sum(_remind(app, row, audit.SYSTEM) for row in due)


def remind_by_hand(app, agreement_id, party_id, user, actor) -> None:
    """A handläggare's reminder to one party, from the agreement's page: only to an open,
    unanswered link to the current version (Conflict otherwise, and nothing is sent)."""
    with app.extensions["db"].session() as session:
        handled_agreement(session, agreement_id, user)
    rows = _open_unanswered_links(app, utcnow(), Party.id == party_id, Agreement.id == agreement_id)
    if not rows:
        raise Conflict("Parten har ingen öppen länk som väntar på svar, så det finns inget att påminna om.")
    if not is_configured(app):
        raise Unavailable("E-post är inte inställd för tjänsten, så ingen påminnelse kan skickas.")
    if not _remind(app, rows[-1], actor):
        raise Unavailable(f"Påminnelsen till {rows[-1].contact_email} kunde inte skickas. Försök igen senare.")


def _remind(app, due, actor) -> bool:
    """Claim, send and record one reminder; False (claim released) if it was not sent."""
    if not _claim(app, due.link_id, due.reminded_at):
        return False
    message = Outgoing(due.contact_email, f"Påminnelse: {due.title}", _reminder_text(due))
    if _deliver(app, [message]):
        _release(app, due.link_id, due.reminded_at)
        return False
    with app.extensions["db"].session() as session:
        audit.record(
            session,
            "reminder_sent",
            actor,
            due.agreement_id,
            link_id=due.link_id,
            party=due.party_name,
            email=due.contact_email,
        )
    return True


def _open_unanswered_links(app, now, *where):
    """Open links to the current version of a sent agreement, of parties with an address and
    no current answer: the only links ever reminded (never answered, revoked or outdated ones)."""
    current_answers = signing.current_answer_ids(SigningLink.version_id)  # the party has answered
    query = (
        select(
            SigningLink.id.label("link_id"),
            SigningLink.created_at,
            SigningLink.expires_at,
            SigningLink.reminded_at,
            Version.remind_every_days,
            Version.answer_by,
            Party.name.label("party_name"),
            func.coalesce(SigningLink.sent_to, Party.contact_email).label("contact_email"),
            Agreement.id.label("agreement_id"),
            Agreement.title,
            User.email.label("official_email"),
        )
        .join(Version, SigningLink.version_id == Version.id)
        .join(Party, SigningLink.party_id == Party.id)
        .join(Agreement, Party.agreement_id == Agreement.id)
        .outerjoin(User, Agreement.created_by_id == User.id)
        .where(
            signing.link_is_open(now),
            SigningLink.version_id == signing.current_version_id(Agreement.id).correlate(Agreement),
            status.awaits_answers(Agreement),
            func.coalesce(SigningLink.sent_to, Party.contact_email) != "",
            Party.id.not_in(select(Confirmation.party_id).where(Confirmation.id.in_(current_answers))),
            *where,
        )
        .order_by(SigningLink.id)
    )
    with app.extensions["db"].session() as session:
        return session.execute(query).all()


def _claim(app, link_id, reminded_at) -> bool:
    """Take the link for one reminder: only if no one else reminded it since `reminded_at` was read."""
    unchanged = SigningLink.reminded_at.is_(None) if reminded_at is None else SigningLink.reminded_at == reminded_at
    with app.extensions["db"].session() as session:
        result = session.execute(
            update(SigningLink)
            .where(SigningLink.id == link_id, unchanged, signing.link_is_open(utcnow()))
            .values(reminded_at=utcnow())
        )
        return result.rowcount == 1


def _release(app, link_id, reminded_at):
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).where(SigningLink.id == link_id).values(reminded_at=reminded_at))


def _reminder_text(due) -> str:
    official = f"handläggaren {due.official_email}" if due.official_email else "handläggaren som skickade avtalet"
    last_day = due.answer_by or local_time(due.expires_at).date()
    return f"""Hej!

Det här är en påminnelse. Avtalet "{due.title}" väntar fortfarande på att {due.party_name} \
bekräftar eller avböjer det.

Sista dag att svara: {iso_date(last_day)}
{_valid_until(due.expires_at)}. Använd länken i det e-postmeddelande ni fick när avtalet \
skickades. Av säkerhetsskäl sparar vi inte länken och kan inte skicka den igen.

Hittar ni inte meddelandet, eller fungerar länken inte längre? Be {official} om en ny länk.

{SIGNATURE}
"""


def send_daily_summaries(app) -> int:
    """Each handläggare who chose a daily summary gets, at most once a day, one email per
    agreement listing the answers since the last one. The handler row is claimed by a
    compare-and-set of `summary_sent_at`, so two sweeps send one summary. Returns how many."""
    if not is_configured(app):
        return 0
    now = utcnow()
    with app.extensions["db"].session() as session:
        due = session.execute(
            select(AgreementHandler, User.email)
            .join(User, AgreementHandler.user_id == User.id)
            .where(
                AgreementHandler.notify == "daily",
                or_(
                    AgreementHandler.summary_sent_at.is_(None),
                    AgreementHandler.summary_sent_at <= now - timedelta(days=1),
                ),
            )
        ).all()
        summaries = []
        for handler, email in due:
            since = handler.summary_sent_at or handler.created_at
            answers = session.scalars(
                select(Confirmation)
                .join(Party, Confirmation.party_id == Party.id)
                .where(Party.agreement_id == handler.agreement_id, Confirmation.created_at > since)
                .order_by(Confirmation.id)
            ).all()
            if answers and _claim_summary(session, handler, now):
                summaries.append(_summary(app, session.get(Agreement, handler.agreement_id), answers, email))
    _deliver(app, summaries)
    return len(summaries)


def _claim_summary(session, handler, now) -> bool:
    unchanged = (
        AgreementHandler.summary_sent_at.is_(None)
        if handler.summary_sent_at is None
        else AgreementHandler.summary_sent_at == handler.summary_sent_at
    )
    result = session.execute(
        update(AgreementHandler).where(AgreementHandler.id == handler.id, unchanged).values(summary_sent_at=now)
    )
    return result.rowcount == 1


def _summary(app, agreement, answers, to) -> "Outgoing":
    def line(answer):
        person = ", ".join(x for x in (answer.signer_name, answer.signer_title) if x)
        if answer.decision == "confirmed":
            return f"- {answer.party.name}: bekräftat av {person}, {answer.place}, {_when(answer.created_at)}"
        return f"- {answer.party.name}: avböjt av {person or 'okänd'}, {_when(answer.created_at)}"

    text = f"""Hej!

Svar på avtalet "{agreement.title}" sedan förra sammanfattningen:

{chr(10).join(line(answer) for answer in answers)}

Avtalet: {agreement_url(app, agreement.id)}

Du får en sammanfattning om dagen när parterna har svarat. Du kan ändra det på avtalets sida.

{SIGNATURE}
"""
    return Outgoing(to, f"Sammanfattning av svar: {agreement.title}", text)


def send_deadline_notices(app) -> int:
    """Tell the handläggare, once per version, that its last day to answer has passed while
    parties have not answered (named); recorded as 'deadline_passed'. Returns how many were told."""
    if not is_configured(app):
        return 0
    today = local_time(utcnow()).date()
    current = Version.id == signing.current_version_id(Agreement.id).correlate(Agreement)
    told = 0
    with app.extensions["db"].session() as session:
        passed = session.execute(
            select(Agreement, Version)
            .join(Version, Version.agreement_id == Agreement.id)
            .where(status.awaits_answers(Agreement), current, Version.answer_by < today)
        ).all()
        notices = []
        for agreement, version in passed:
            earlier = session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.agreement_id == agreement.id, AuditEvent.event == "deadline_passed"
                )
            )
            if any(details.get("version") == version.number for details in earlier):
                continue
            waiting = [s.party.name for s in signing.party_statuses(session, agreement) if s.status == "pending"]
            audit.record(
                session, "deadline_passed", audit.SYSTEM, agreement.id, version=version.number, waiting=waiting
            )
            text = f"""Hej!

Sista dag att svara på avtalet "{agreement.title}" var {iso_date(version.answer_by)}. \
De här parterna har inte svarat:

{chr(10).join("- " + name for name in waiting)}

Deras länkar fungerar inte längre. Du kan skicka en ny länk till en part från avtalets sida.

Avtalet: {agreement_url(app, agreement.id)}

{SIGNATURE}
"""
            subject = f"Sista dag har passerat: {agreement.title}"
            notices += [Outgoing(to, subject, text) for to in notice_recipients(session, agreement, NOTIFY_CHOICES)]
            told += 1
    _deliver(app, notices)
    return told


def agreement_url(app, agreement_id) -> str:
    """The agreement's page for its officials."""
    return route_url(app, "drafting.show", agreement_id=agreement_id)


def _answer_notice_text(app, agreement, party, facts: list[str], closing: str) -> str:
    dnr = f" ({agreement.registration_number})" if agreement.registration_number else ""
    lines = "\n".join(facts)
    return f"""Hej!

Avtal: {agreement.title}{dnr}
Part: {party.name} ({party.org_number})
{lines}

{closing}

Avtalet: {agreement_url(app, agreement.id)}

{SIGNATURE}
"""


def _when(at) -> str:
    return local_time(at or utcnow()).strftime("%Y-%m-%d kl. %H:%M")


def send_decline_notice(app, agreement, party, reason, person="", at=None) -> list[str]:
    """Tell every handläggare at once that a party declined, whatever each chose to hear:
    a decline stops the agreement until they act. Returns failed addresses."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        recipients = notice_recipients(session, agreement, NOTIFY_CHOICES)
    facts = [f"Avböjt av: {person}"] if person else []
    facts += [f"Tidpunkt: {_when(at)}", f"Motivering: {reason or 'ingen angiven'}"]
    closing = (
        "Avtalet har status Avböjt. Om ni kommer överens om ändringar kan du ändra avtalet och skicka "
        "det för signering igen."
    )
    text = _answer_notice_text(app, agreement, party, facts, closing)
    return _deliver(app, [Outgoing(to, f"Avböjt av {party.name}: {agreement.title}", text) for to in recipients])


def send_confirmation_notice(app, agreement, party, answer) -> list[str]:
    """Tell the handläggare who chose to hear of every answer that a party confirmed."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        recipients = notice_recipients(session, agreement, ("every",))
    title = f", {answer.signer_title}" if answer.signer_title else ""
    facts = [
        f"Bekräftat av: {answer.signer_name}{title}",
        f"Ort: {answer.place}",
        f"Tidpunkt: {_when(answer.created_at)}",
    ]
    if party.acceded:
        closing = "Organisationen har anslutit sig till överenskommelsen. Dess anslutningsbevis görs nu."
    elif status.is_completed(agreement):
        closing = "Alla parter har nu bekräftat. Du får ett meddelande när det slutliga avtalet är klart."
    else:
        closing = "Avtalet väntar på svar från fler parter."
    text = _answer_notice_text(app, agreement, party, facts, closing)
    return _deliver(app, [Outgoing(to, f"Bekräftat av {party.name}: {agreement.title}", text) for to in recipients])


def send_final_failed_notice(app, agreement_id) -> list[str]:
    """Tell the agreement's officials that its final PDF could not be made and is no longer retried."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        agreement = session.get(Agreement, agreement_id)
        title, recipients = agreement.title, [user.email for user in handlers(session, agreement)]
    text = f"""Hej!

Alla parter har bekräftat avtalet "{title}", men den slutliga PDF:en kunde inte skapas, \
trots flera försök. Tjänsten försöker inte längre automatiskt.

Bekräftelserna är sparade och ingenting har gått förlorat. Kontakta tjänstens förvaltning, \
så att felet kan rättas och den slutliga PDF:en skapas.

{SIGNATURE}
"""
    return _deliver(app, [Outgoing(to, f"Slutlig PDF saknas: {title}", text) for to in recipients])


class Outgoing(NamedTuple):
    to: str
    subject: str
    text: str
    reply_to: str | None = None
    attachments: tuple[tuple[str, bytes], ...] = ()  # (file name, PDF bytes)


def _message(app, outgoing: Outgoing) -> EmailMessage:
    """The message to exactly the mailbox `to`. Address takes one plain address only and
    raises ValueError on a list, a display name or angle brackets, which an address
    stored before the forms refused them could still hold."""
    sender = app.config["MAIL_FROM"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=outgoing.to)
    message["Subject"] = " ".join(outgoing.subject.split())  # a title must not break the header
    message["Date"] = format_datetime(local_time(utcnow()))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if outgoing.reply_to:
        message["Reply-To"] = outgoing.reply_to
    message.set_content(outgoing.text + _footer(app))
    for filename, pdf in outgoing.attachments:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def _footer(app) -> str:
    """Under every message: how the service handles personal data, and its accessibility statement."""
    return (
        "\n\n-- \n"
        f"Så behandlar vi personuppgifter: {route_url(app, 'notices.privacy')}\n"
        f"Tillgänglighetsredogörelse: {route_url(app, 'notices.accessibility')}\n"
    )


def _deliver(app, messages: list[Outgoing]) -> list[str]:
    """Send over one connection, each message to its one recipient alone; log and return
    the recipients that could not be reached."""
    if not messages:
        return []
    try:
        smtp = smtplib.SMTP(app.config["SMTP_HOST"], app.config["SMTP_PORT"], timeout=SMTP_TIMEOUT)
    except OSError:
        log.exception("Could not connect to SMTP server %s:%s", app.config["SMTP_HOST"], app.config["SMTP_PORT"])
        return [m.to for m in messages]
    failed = []
    for outgoing in messages:
        try:
            message = _message(app, outgoing)
            smtp.send_message(message, to_addrs=[message["To"].addresses[0].addr_spec])
        except (OSError, ValueError):  # smtplib's errors are OSErrors too
            log.exception("Could not send mail to %r", outgoing.to)
            failed.append(outgoing.to)
    try:
        smtp.quit()
    except OSError:
        smtp.close()
    return failed


def send_receipt(app, to, done, pdf: bytes) -> list[str]:
    """The party's receipt of its confirmation, with exactly the PDF it confirmed attached."""
    if not is_configured(app):
        return []
    answer, party, agreement, version = done["answer"], done["party"], done["agreement"], done["version"]
    title = f", {answer.signer_title}" if answer.signer_title else ""
    text = f"""Hej!

Det här är ert kvitto på att {party.name} har bekräftat avtalet "{agreement.title}".

Bekräftat av: {answer.signer_name}{title}
Organisation: {party.name} ({party.org_number})
Ort: {answer.place}
Tidpunkt: {local_time(answer.created_at).strftime("%Y-%m-%d kl. %H:%M")}
Version: {version.number}
Avtalstextens SHA-256: {version.pdf_sha256}

Den bifogade PDF-filen är exakt den text ni bekräftade. {_what_follows(party)}

{SIGNATURE}
"""
    attachment = (f"avtal-version-{version.number}.pdf", pdf)
    return _deliver(app, [Outgoing(to, f"Kvitto: {agreement.title}", text, attachments=(attachment,))])


def _what_follows(party) -> str:
    if party.acceded:
        return "Ert anslutningsbevis, förseglat av tjänsten, skickas till er när det är klart."
    return "När alla parter har bekräftat får ni det slutliga avtalet med en egen länk."


def _registry_addresses(app, agreement) -> list[str]:
    """Where a document goes to be registered: AVTAL_REGISTRY_EMAIL and the agreement's own registratur."""
    return [a for a in dict.fromkeys((app.config["REGISTRY_EMAIL"], agreement.registry_email)) if a]


def _registry_subject(dnr, what) -> str:
    """A subject for registraturen, the diarienummer first."""
    return f"{dnr or 'Utan diarienummer'} – {what}"


def _deliver_to_registry_too(app, messages, registry, agreement_id, sha256) -> list[str]:
    """Deliver, then note in the audit trail each registry address that got the document: what
    registraturen got, for its records and ours. Returns the addresses that failed."""
    failed = _deliver(app, messages)
    with app.extensions["db"].session() as session:
        for to in registry:
            if to not in failed:
                audit.record(session, "sent_to_registry", audit.SYSTEM, agreement_id, email=to, sha256=sha256)
    return failed


def send_accession_record(app, record_id) -> list[str]:
    """An organisation's sealed accession record to the organisation (its receipt address) and to
    registraturen, with the diarienummer leading the registry's subject; each registry delivery audited."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        record = session.get(AccessionRecord, record_id)
        confirmation = session.get(Confirmation, record.confirmation_id)
        party, agreement = record.party, session.get(Agreement, record.agreement_id)
        registry = _registry_addresses(app, agreement)
        dnr, title, number, sha256 = agreement.registration_number, agreement.title, record.number, record.sha256
        attachment = (f"avtal-{agreement.id}-anslutning-{number}.pdf", app.extensions["files"].get(sha256))
        text = f"""Hej!

{party.name} ({party.org_number}) har anslutit sig till överenskommelsen "{title}"\
{f" ({dnr})" if dnr else ""}. Bekräftat av {confirmation.signer_name} i {confirmation.place} \
{local_minute(confirmation.created_at)}.

Anslutningsbeviset (anslutning {number}, SHA-256 {sha256}) är bifogat. Det är förseglat av \
tjänsten och hänvisar till den avtalstext som bekräftades.

{SIGNATURE}
"""
        messages = [
            Outgoing(
                receipts.receipt_address(confirmation, party), f"Anslutning: {title}", text, attachments=(attachment,)
            )
        ]
        subject = _registry_subject(dnr, f"anslutning {number}: {party.name}")
        messages += [Outgoing(to, subject, text, attachments=(attachment,)) for to in registry]
        agreement_id = agreement.id
    return _deliver_to_registry_too(app, messages, registry, agreement_id, sha256)


def send_decline_receipt(app, to, done) -> list[str]:
    """The party's copy of its decline: who declined, why, when."""
    if not is_configured(app):
        return []
    answer, party, agreement, version = done["answer"], done["party"], done["agreement"], done["version"]
    text = f"""Hej!

Det här är er kopia av att {party.name} har avböjt avtalet "{agreement.title}".

Avböjt av: {answer.signer_name}, {answer.signer_title}
Organisation: {party.name} ({party.org_number})
Motivering: {answer.reason or "ingen angiven"}
Tidpunkt: {_when(answer.created_at)}
Version: {version.number}
Avtalstextens SHA-256: {version.pdf_sha256}

Handläggaren har fått ert svar och kan ändra avtalet och skicka det igen.

{SIGNATURE}
"""
    return _deliver(app, [Outgoing(to, f"Kopia av ert svar: {agreement.title}", text)])


def send_final_links(app, document_id) -> list[str]:
    """Each party that confirmed gets its own link to the final PDF; returns failed addresses."""
    if not is_configured(app):
        return []
    serializer = receipts.final_serializer(app.config["SECRET_KEY"])
    days = app.config["LINK_MAX_AGE_DAYS"]
    with app.extensions["db"].session() as session:
        document = session.get(FinalDocument, document_id)
        title = document.agreement.title
        messages = []
        for confirmation, party, address in receipts.final_recipients(session, document):
            url = route_url(app, "sign.final_pdf", token=receipts.final_token(serializer, confirmation.id, document.id))
            text = _final_text(title, party.name, url, days)
            messages.append(Outgoing(address, f"Avtalet är klart: {title}", text))
    return _deliver(app, messages)


def send_final_to_officials(app, document_id) -> list[str]:
    """The final PDF to every handläggare and to registraturen (AVTAL_REGISTRY_EMAIL and the
    agreement's own registry address), attached up to MAIL_ATTACH_MAX_BYTES, else linked.
    The registry's subject leads with the diarienummer; each delivery to it is audited."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        document = session.get(FinalDocument, document_id)
        agreement = document.agreement
        officials = notice_recipients(session, agreement, NOTIFY_CHOICES)
        registry = _registry_addresses(app, agreement)
        pdf = app.extensions["files"].get(document.sha256)
        dnr, title, number = agreement.registration_number, agreement.title, document.number
        url = route_url(app, "drafting.final_pdf", agreement_id=agreement.id, number=number)
        small = len(pdf) <= app.config["MAIL_ATTACH_MAX_BYTES"]
        attachments = ((f"avtal-{agreement.id}-slutlig-{number}.pdf", pdf),) if small else ()
        where = (
            "Det slutliga avtalet är bifogat som PDF."
            if small
            else f"Det slutliga avtalet är för stort för e-post. Logga in och hämta det här:\n{url}"
        )
        text = f"""Hej!

Alla parter har bekräftat avtalet "{title}"{f" ({dnr})" if dnr else ""}, och det slutliga avtalet \
med verifieringsbilaga är klart (slutlig PDF {number}, SHA-256 {document.sha256}).

{where}

Avtalet: {agreement_url(app, agreement.id)}

{SIGNATURE}
"""
        registry_subject = _registry_subject(dnr, f"slutligt avtal: {title}")
        messages = [Outgoing(to, f"Slutligt avtal klart: {title}", text, attachments=attachments) for to in officials]
        messages += [Outgoing(to, registry_subject, text, attachments=attachments) for to in registry]
        agreement_id, sha256 = agreement.id, document.sha256
    return _deliver_to_registry_too(app, messages, registry, agreement_id, sha256)


def _final_text(title, party_name, url, days) -> str:
    return f"""Hej!

Alla parter har bekräftat avtalet "{title}". Det slutliga avtalet, med alla parters \
bekräftelser och en verifieringsbilaga, kan {party_name} hämta här:

{url}

Länken är personlig för {party_name} och gäller i {days} dagar. Spara filen hos er.

{SIGNATURE}
"""
