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

from sqlalchemy import select, update

from . import audit, receipts, signing
from .agreements import handlers
from .formatting import local_time
from .models import Agreement, Confirmation, FinalDocument, Party, SigningLink, User, utcnow

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


def _link_text(agreement, issued, sender, url, change_note="") -> str:
    party, expires_at = issued.party, issued.expires_at
    revision = _revision_text(issued, change_note) if issued.version_number > 1 else ""
    return f"""Hej!

{sender} har skickat avtalet "{agreement.title}" till {party.name} för bekräftelse.

{revision}Öppna länken, läs avtalet och bekräfta det med namn, titel och ort. Datum och tid sätts \
automatiskt. Om ni inte vill ingå avtalet kan ni avböja det på samma sida och skriva varför.

{url}

{_valid_until(expires_at)} och kan bara användas en gång. Den är personlig för {party.name}: \
skicka inte vidare meddelandet.

Har du frågor om avtalet? Svara på det här meddelandet, så når du {sender}.

{SIGNATURE}
"""


def _valid_until(expires_at) -> str:
    return "Länken gäller till " + local_time(expires_at).strftime("%Y-%m-%d kl. %H:%M")


def send_reminders(app) -> int:
    """Remind each party whose open link expires within REMINDER_DAYS_BEFORE days, once.

    The reminder cannot carry the link: only a hash of its nonce is stored, so the token
    cannot be rebuilt. It asks the party to use the link in the earlier email, or to
    ask the official for a new one. A link is claimed by an atomic update of
    `reminded_at` before mailing, so two sweeps running at once send one reminder; a
    failed send releases the claim and the next sweep tries again. Returns how many
    reminders were sent.
    """
    if not is_configured(app):
        return 0
    sent = 0
    for due in _due_reminders(app):
        if not _claim(app, due.link_id):
            continue
        message = Outgoing(due.contact_email, f"Påminnelse: {due.title}", _reminder_text(due))
        if _deliver(app, [message]):
            _release(app, due.link_id)
            continue
        with app.extensions["db"].session() as session:
            audit.record(
                session,
                "reminder_sent",
                audit.SYSTEM,
                due.agreement_id,
                link_id=due.link_id,
                party=due.party_name,
                email=due.contact_email,
            )
        sent += 1
    return sent


def _due_reminders(app):
    """Open links to the current version of a sent agreement, expiring soon, not yet reminded,
    of parties that have no current answer."""
    now = utcnow()
    current_answers = signing.current_answer_ids(SigningLink.version_id)  # the party has answered
    query = (
        select(
            SigningLink.id.label("link_id"),
            SigningLink.expires_at,
            Party.name.label("party_name"),
            Party.contact_email,
            Agreement.id.label("agreement_id"),
            Agreement.title,
            User.email.label("official_email"),
        )
        .join(Party, SigningLink.party_id == Party.id)
        .join(Agreement, Party.agreement_id == Agreement.id)
        .outerjoin(User, Agreement.created_by_id == User.id)
        .where(
            signing.link_is_open(now),
            SigningLink.reminded_at.is_(None),
            SigningLink.expires_at <= now + timedelta(days=app.config["REMINDER_DAYS_BEFORE"]),
            SigningLink.version_id == signing.current_version_id(Agreement.id).correlate(Agreement),
            Agreement.status == "sent",
            Party.contact_email != "",
            Party.id.not_in(select(Confirmation.party_id).where(Confirmation.id.in_(current_answers))),
        )
        .order_by(SigningLink.id)
    )
    with app.extensions["db"].session() as session:
        return session.execute(query).all()


def _claim(app, link_id) -> bool:
    with app.extensions["db"].session() as session:
        result = session.execute(
            update(SigningLink)
            .where(
                SigningLink.id == link_id,
                SigningLink.reminded_at.is_(None),
                signing.link_is_open(utcnow()),
            )
            .values(reminded_at=utcnow())
        )
        return result.rowcount == 1


def _release(app, link_id):
    with app.extensions["db"].session() as session:
        session.execute(update(SigningLink).where(SigningLink.id == link_id).values(reminded_at=None))


def _reminder_text(due) -> str:
    official = f"handläggaren {due.official_email}" if due.official_email else "handläggaren som skickade avtalet"
    return f"""Hej!

Avtalet "{due.title}" väntar fortfarande på att {due.party_name} bekräftar eller avböjer det.

{_valid_until(due.expires_at)}. Använd länken i det e-postmeddelande ni fick när avtalet \
skickades. Av säkerhetsskäl sparar vi inte länken och kan inte skicka den igen.

Hittar ni inte meddelandet, eller fungerar länken inte längre? Be {official} om en ny länk.

{SIGNATURE}
"""


def send_decline_notice(app, agreement, party, reason) -> list[str]:
    """Tell the official who created the agreement that a party declined; returns failed addresses."""
    if not is_configured(app):
        return []
    with app.extensions["db"].session() as session:
        official = session.get(User, agreement.created_by_id) if agreement.created_by_id else None
    if official is None:
        log.warning("Agreement %s has no official to tell that %s declined", agreement.id, party.name)
        return []
    dnr = f" ({agreement.registration_number})" if agreement.registration_number else ""
    text = f"""Hej!

{party.name} har avböjt avtalet "{agreement.title}"{dnr}.

Motivering:
{reason}

Avtalet har status Avböjt. Om ni kommer överens om ändringar kan du ändra avtalet och skicka \
det för signering igen.

{SIGNATURE}
"""
    return _deliver(app, [Outgoing(official.email, f"Avböjt: {agreement.title}", text)])


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

Den bifogade PDF-filen är exakt den text ni bekräftade. När alla parter har bekräftat \
får ni det slutliga avtalet med en egen länk.

{SIGNATURE}
"""
    attachment = (f"avtal-version-{version.number}.pdf", pdf)
    return _deliver(app, [Outgoing(to, f"Kvitto: {agreement.title}", text, attachments=(attachment,))])


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


def _final_text(title, party_name, url, days) -> str:
    return f"""Hej!

Alla parter har bekräftat avtalet "{title}". Det slutliga avtalet, med alla parters \
bekräftelser och en verifieringsbilaga, kan {party_name} hämta här:

{url}

Länken är personlig för {party_name} och gäller i {days} dagar. Spara filen hos er.

{SIGNATURE}
"""
