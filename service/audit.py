"""The append-only audit trail. Every event carries the hash of the one before it, so a
changed, removed or inserted row breaks the chain and `verify_chain` names where. An
agreement's event also carries the hash of that agreement's previous event, so its events
form a chain of their own that its archive package can be checked with alone (trail_check)."""

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import func, select

from .formatting import STOCKHOLM
from .models import AuditEvent, utcnow
from .trail_check import GENESIS, event_hash


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where: 'user:<email>', 'party:<id>' or 'system'."""

    name: str
    ip: str = ""
    user_agent: str = ""


SYSTEM = Actor("system")


def _event_hash(event: AuditEvent) -> str:
    return event_hash(
        {
            "agreement_id": event.agreement_id,
            "created_at": event.created_at.isoformat(),
            "event": event.event,
            "actor": event.actor,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "details": event.details,
            "prev_hash": event.prev_hash,
            "agreement_prev_hash": event.agreement_prev_hash,
        }
    )


def _lock_chain(session):
    """Serialise appends. SQLite already does (BEGIN IMMEDIATE); PostgreSQL needs a lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(7_318_224)))


def record(session, event: str, actor: Actor, agreement_id=None, **details) -> AuditEvent:
    """Append one event in the caller's transaction (it commits with the change it describes)."""
    _lock_chain(session)
    last = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    row = AuditEvent(
        agreement_id=agreement_id,
        created_at=utcnow(),
        event=event,
        actor=actor.name[:320],
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:500],
        details=details,
        prev_hash=last or GENESIS,
        agreement_prev_hash=_last_of_agreement(session, agreement_id),
    )
    row.hash = _event_hash(row)
    session.add(row)
    session.flush()
    return row


def _last_of_agreement(session, agreement_id) -> str | None:
    """The hash the agreement's next event links to; None for events of no agreement."""
    if agreement_id is None:
        return None
    last = select(AuditEvent.hash).where(AuditEvent.agreement_id == agreement_id)
    return session.scalars(last.order_by(AuditEvent.id.desc()).limit(1)).first() or GENESIS


def verify_chain(session):
    """Check every event in order, and each agreement's own chain. Returns None if intact,
    else (event id, Swedish reason)."""
    expected_prev = GENESIS
    last_of_agreement: dict[int, str] = {}
    for row in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if row.prev_hash != expected_prev:
            return row.id, "länken till föregående händelse stämmer inte (en händelse saknas eller har lagts till)"
        if _event_hash(row) != row.hash:
            return row.id, "händelsens innehåll har ändrats"
        if row.agreement_prev_hash is not None and row.agreement_prev_hash != last_of_agreement.get(
            row.agreement_id, GENESIS
        ):
            return row.id, "länken till avtalets föregående händelse stämmer inte"
        expected_prev = row.hash
        if row.agreement_id is not None:
            last_of_agreement[row.agreement_id] = row.hash
    return None


def actor_label(actor: str) -> str:
    """'user:anna@example.se' -> 'anna@example.se'; 'party:3 Region Skåne' -> 'Region Skåne (part)'."""
    kind, _, who = actor.partition(":")
    if kind == "user":
        return who
    if kind == "party":
        return f"{who.partition(' ')[2]} (part)"
    return "Tjänsten" if actor == SYSTEM.name else actor


def count(session) -> int:
    return session.scalar(select(func.count(AuditEvent.id)))


EVENTS_PAGE = 200  # events per page of a trail shown on a page


def events_page(session, agreement_id, after_id=None, size=EVENTS_PAGE) -> tuple[list[AuditEvent], int | None]:
    """A page of the agreement's events in order, after event `after_id`, and the id to go on from."""
    query = select(AuditEvent).where(AuditEvent.agreement_id == agreement_id)
    if after_id is not None:
        query = query.where(AuditEvent.id > after_id)
    events = list(session.scalars(query.order_by(AuditEvent.id).limit(size + 1)))
    return events[:size], (events[size - 1].id if len(events) > size else None)


def events_for(session, agreement_id):
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.agreement_id == agreement_id).order_by(AuditEvent.id))
    )


EVENT_LABELS = {
    "created": "Utkast skapat",
    "draft_saved": "Utkast sparat",
    "version_frozen": "Version låst för signering",
    "link_issued": "Länk skickad",
    "link_opened": "Länk öppnad",
    "handler_added": "Handläggare tillagd",
    "confirmed": "Bekräftat",
    "declined": "Avböjt",
    "completed": "Alla parter har bekräftat",
    "revoked": "Länk återkallad",
    "party_added": "Part ansluten",
    "accession_accepted": "Lista med parter godkänd för anslutning",
    "accession_done": "Listans organisationer anslutna",
    "accession_recorded": "Anslutningsbevis förseglat",
    "register_made": "Förteckning över parterna gjord",
    "register_requested": "Förteckning över parterna begärd",
    "final_assembled": "Slutlig PDF skapad",
    "final_failed": "Slutlig PDF kunde inte skapas",
    "final_retried": "Nytt försök med slutlig PDF begärt",
    "downloaded": "Nedladdad",
    "exported": "Arkivpaket skapat",
    "reminder_sent": "Påminnelse skickad",
    "final_downloaded": "Slutlig PDF hämtad av part",
    "answer_voided": "Svaret gäller inte längre (texten ändrades)",
    "send_refused": "Skickades inte",
    "template_refused": "Mall avvisad",
    "template_uploaded": "Mallversion uppladdad",
    "template_activated": "Mallversion gjord aktiv för nya avtal",
    "template_retired": "Mallversion avvecklad",
    "process_added": "Process tillagd i klassificeringen",
    "process_retired": "Process avvecklad i klassificeringen",
    "process_restored": "Process i bruk igen i klassificeringen",
    "retention": "Gallrat enligt gallringsregel",
    "notify_changed": "Val av e-post om avtalet ändrat",
    "registry_email_set": "Registraturens adress ändrad",
    "sent_to_registry": "Slutlig PDF skickad till registraturen",
    "deadline_passed": "Sista dag att svara har passerat",
    "forwarded": "Länk skickad vidare till den som får skriva under",
    "copied": "Utkast kopierat från ett annat avtal",
}


CSV_COLUMNS = [
    "id",
    "tid",
    "händelse",
    "aktör",
    "ip",
    "webbläsare",
    "detaljer",
    "föregående hash",
    "avtalets föregående hash",
    "hash",
]


def swedish_iso(moment) -> str:
    """A stored (naive UTC) time in Swedish time with its offset, ISO 8601: 2021-03-09T14:02:00+01:00."""
    return moment.replace(tzinfo=UTC).astimezone(STOCKHOLM).isoformat()


def event_json(event) -> dict:
    return {
        "id": event.id,
        "created_at": swedish_iso(event.created_at),
        "event": event.event,
        "label": EVENT_LABELS.get(event.event, event.event),
        "actor": event.actor,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "agreement_prev_hash": event.agreement_prev_hash,
        "hash": event.hash,
    }


def trail_json(agreement, events) -> bytes:
    """An agreement's trail as the archive's JSON download and the archive package carry it."""
    body = {
        "agreement": {
            "id": agreement.id,
            "title": agreement.title,
            "registration_number": agreement.registration_number,
        },
        "events": [event_json(event) for event in events],
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


def trail_csv(events) -> bytes:
    """The trail as Swedish Excel opens it: UTF-8 with BOM, `;` between fields."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        details = json.dumps(e.details, ensure_ascii=False, sort_keys=True)
        row = [
            e.id,
            swedish_iso(e.created_at),
            EVENT_LABELS.get(e.event, e.event),
            e.actor,
            e.ip,
            e.user_agent,
            details,
            e.prev_hash,
            e.agreement_prev_hash or "",
            e.hash,
        ]
        writer.writerow([_inert(value) for value in row])
    return out.getvalue().encode("utf-8-sig")


def _inert(value):
    """Keep a browser string like '=HYPERLINK(…)' from running as a formula in Excel."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
