"""Drafting, freezing a version for signature, and accession: the domain rules.

A draft holds validated form data. Sending freezes it: the agreement PDF is rendered
and stored, its SHA-256 recorded in a new Version, and each party gets a link bound
to that version. Editing after sending puts the agreement back to draft, so the old
links stop working (they are for an outdated version); sending again freezes the
next version. Accession adds a party to a completed överenskommelse without
changing its text: the new party confirms the same frozen version.
"""

import json

from sqlalchemy import select

from . import audit, signing
from .documents import render_agreement_pdf
from .documents.seal import seal_pdf
from .models import Agreement, FinalDocument, Party, Version, utcnow
from .schema import SchemaError, validate_agreement

STATUS_LABELS = {"draft": "Utkast", "sent": "Skickat för signering", "completed": "Klart", "declined": "Avböjt"}


class AgreementError(Exception):
    """A rule of the domain was broken; `message` is Swedish and safe to show."""

    def __init__(self, message, status=409):
        self.message = message
        self.status = status
        super().__init__(message)


def _keep_data(files, data) -> str:
    """Every saved draft is kept in the file store, so no edit loses what was there."""
    return files.put(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _normalised(data) -> dict:
    return validate_agreement(data).model_dump(mode="json")


def create_draft(session, files, data, user, actor, template=None) -> Agreement:
    """Validate and store a new draft (SchemaError if the data is invalid).
    `template` is an uploaded CustomTemplate to use instead of the built-in one."""
    clean = _normalised(data)
    if template is not None and template.kind != clean["kind"]:
        raise AgreementError("Mallen är gjord för en annan avtalstyp.", status=422)
    agreement = Agreement(
        kind=clean["kind"],
        title=clean["title"],
        registration_number=clean["registration_number"],
        status="draft",
        data=clean,
        data_sha256=_keep_data(files, clean),
        created_by_id=user.id if user else None,
        template_id=template.id if template else None,
    )
    session.add(agreement)
    session.flush()
    _sync_parties(session, agreement)
    audit.record(session, "created", actor, agreement.id, data_sha256=agreement.data_sha256)
    return agreement


def update_draft(session, files, agreement, data, actor) -> Agreement:
    """Save new form data. A sent agreement goes back to draft and its links stop working."""
    if agreement.status == "completed":
        raise AgreementError("Avtalet är klart och kan inte ändras. Nya parter kan anslutas.")
    clean = _normalised(data)
    if clean["kind"] != agreement.kind:
        raise SchemaError({"kind": "Avtalstyp kan inte ändras för ett befintligt avtal"})
    agreement.data = clean
    agreement.title = clean["title"]
    agreement.registration_number = clean["registration_number"]
    agreement.data_sha256 = _keep_data(files, clean)
    agreement.status = "draft"
    agreement.updated_at = utcnow()
    _sync_parties(session, agreement)
    audit.record(session, "draft_saved", actor, agreement.id, data_sha256=agreement.data_sha256)
    return agreement


def _sync_parties(session, agreement) -> list[Party]:
    """Party rows for each party in the data, matched by position."""
    existing = {p.position: p for p in session.scalars(select(Party).where(Party.agreement_id == agreement.id))}
    rows = []
    for position, data in enumerate(agreement.data["parties"]):
        party = existing.get(position) or Party(agreement_id=agreement.id, position=position)
        party.name = data["name"]
        party.org_number = data["org_number"]
        party.contact_email = data.get("contact_email", "")
        session.add(party)
        rows.append(party)
    session.flush()
    return rows


def send_for_signature(db, files, office, serializer, agreement_id, max_age_days, actor):
    """Freeze the current text as a new version and issue one link per party.

    Returns (agreement, [signing.IssuedLink]). LibreOffice renders the PDF between two short
    transactions, so the database is never locked while it works; a draft that was
    saved in the meantime is not sent, and the official is asked to try again.
    """
    with db.session() as session:
        agreement = get_agreement(session, agreement_id)
        if agreement.status == "completed":
            raise AgreementError("Avtalet är redan klart.")
        data, data_sha256 = agreement.data, agreement.data_sha256
        template_sha256 = agreement.template.sha256 if agreement.template else None
    template = files.get(template_sha256) if template_sha256 else None
    pdf, _ = render_agreement_pdf(validate_agreement(data), office, files, pdfa=True, template=template)
    pdf_sha256 = files.put(seal_pdf(pdf))  # the parties confirm exactly these sealed bytes

    with db.session() as session:
        agreement = get_agreement(session, agreement_id)
        if agreement.data_sha256 != data_sha256 or agreement.status == "completed":
            raise AgreementError("Avtalet ändrades medan det skickades. Kontrollera texten och skicka igen.")
        previous = signing.latest_version(session, agreement.id)
        version = Version(
            agreement_id=agreement.id,
            number=(previous.number + 1) if previous else 1,
            data=agreement.data,
            template_sha256=template_sha256,
            pdf_sha256=pdf_sha256,
        )
        session.add(version)
        session.flush()
        audit.record(session, "version_frozen", actor, agreement.id, version=version.number, pdf_sha256=pdf_sha256)
        agreement.status = "sent"
        agreement.updated_at = utcnow()
        issued = [
            signing.issue_link(session, serializer, party, version, max_age_days, actor)
            for party in _sync_parties(session, agreement)
        ]
        return agreement, issued


def get_agreement(session, agreement_id) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise AgreementError("Avtalet finns inte.", status=404)
    return agreement


def add_party(session, files, serializer, agreement, party_data, max_age_days, actor) -> signing.IssuedLink:
    """Accession: a new organisation joins a sent or completed överenskommelse."""
    if agreement.kind != "overenskommelse":
        raise AgreementError("Bara en överenskommelse kan ta emot nya parter. Ändra avtalet och skicka det igen.")
    if agreement.status not in ("sent", "completed"):
        raise AgreementError("Avtalet måste vara skickat för signering innan nya parter kan anslutas.")
    data = dict(agreement.data, parties=[*agreement.data["parties"], party_data])
    clean = _normalised(data)
    agreement.data = clean
    agreement.data_sha256 = _keep_data(files, clean)
    agreement.status = "sent"
    agreement.updated_at = utcnow()
    party = _sync_parties(session, agreement)[-1]
    audit.record(session, "party_added", actor, agreement.id, party=party.name, org_number=party.org_number)
    version = signing.latest_version(session, agreement.id)
    return signing.issue_link(session, serializer, party, version, max_age_days, actor)


def download_final(session, files, agreement_id, number, actor) -> tuple[FinalDocument, bytes]:
    """A final PDF (the newest when `number` is None), noted in the audit trail as downloaded."""
    documents = get_agreement(session, agreement_id).final_documents
    if number is None:
        document = documents[-1] if documents else None
    else:
        document = next((d for d in documents if d.number == number), None)
    if document is None:
        missing = "ingen slutlig PDF ännu" if number is None else f"ingen slutlig version {number}"
        raise AgreementError(f"Avtalet har {missing}.", status=404)
    audit.record(session, "downloaded", actor, agreement_id, number=document.number, sha256=document.sha256)
    return document, files.get(document.sha256)


def progress(session, agreement) -> tuple[int, int]:
    """(confirmed, total) parties for the current version."""
    parties = signing.active_parties(session, agreement)
    confirmed = signing.confirmations_by_party(session, agreement)
    return sum(1 for p in parties if p.id in confirmed), len(parties) or len(agreement.data["parties"])


def search(session, text="", status="", org_number="", registration_number="", period_from=None, period_to=None):
    """Agreements matching every given filter, newest first."""
    query = select(Agreement).order_by(Agreement.updated_at.desc(), Agreement.id.desc())
    if status:
        query = query.where(Agreement.status == status)
    if org_number:
        digits = org_number.replace("-", "").strip()
        formatted = f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else org_number
        query = query.where(Agreement.id.in_(select(Party.agreement_id).where(Party.org_number == formatted)))
    if registration_number:
        query = query.where(Agreement.registration_number.ilike(f"%{registration_number}%"))
    rows = list(session.scalars(query))
    if text:  # in Python: SQLite's LIKE folds case for ASCII only, and "nätverket" must find "NÄTVERKET"
        rows = [a for a in rows if _mentions(a, text.casefold())]
    if period_from or period_to:
        rows = [a for a in rows if _overlaps(a, period_from, period_to)]
    return rows


def _mentions(agreement, needle) -> bool:
    names = [agreement.title, *(p["name"] for p in agreement.data["parties"])]
    return any(needle in name.casefold() for name in names)


def _overlaps(agreement, period_from, period_to) -> bool:
    period = agreement.data.get("period")
    if not period:
        return False
    start, end = period["start"], period["end"]
    return (not period_to or start <= period_to.isoformat()) and (not period_from or end >= period_from.isoformat())
