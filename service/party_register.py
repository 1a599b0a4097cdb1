"""The register of an open överenskommelse's parties: "Förteckning över undertecknande
organisationer", every organisation that confirmed, with who, where, when and which record holds
it (the final PDF for the founding parties, "Anslutning N" for those who joined later).

Made as a sealed PDF/A with its CSV and XLSX when an official asks, and by the sweep at most
once a day when a record has been added since.
"""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import audit, signing, status
from .documents.register import RegisterFacts, RegisterRow, register_csv, register_pdf, register_xlsx
from .errors import Conflict, NotFound
from .models import AccessionRecord, Agreement, Confirmation, Party, PartyRegister, utcnow

AUTOMATIC_EVERY = timedelta(days=1)
FORMATS = {  # file ending: (the register's column with its SHA-256, content type)
    "pdf": ("pdf_sha256", "application/pdf"),
    "csv": ("csv_sha256", "text/csv; charset=utf-8"),
    "xlsx": ("xlsx_sha256", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def latest(session, agreement_id) -> PartyRegister | None:
    query = select(PartyRegister).where(PartyRegister.agreement_id == agreement_id)
    return session.scalar(query.order_by(PartyRegister.number.desc()).limit(1))


def _last_record_id(session, agreement_id) -> int:
    query = select(func.max(AccessionRecord.id)).where(AccessionRecord.agreement_id == agreement_id)
    return session.scalar(query) or 0


def download(session, files, agreement_id, number, ending, actor) -> tuple[PartyRegister, bytes, str]:
    """A register's PDF, CSV or XLSX with its content type, noted in the audit trail as downloaded."""
    register = session.scalar(
        select(PartyRegister).where(PartyRegister.agreement_id == agreement_id, PartyRegister.number == number)
    )
    if register is None or ending not in FORMATS:
        raise NotFound("Förteckningen finns inte.")
    column, content_type = FORMATS[ending]
    sha256 = getattr(register, column)
    audit.record(session, "downloaded", actor, agreement_id, register=number, sha256=sha256)
    return register, files.get(sha256), content_type


def request(session, agreement, actor) -> None:
    """An official asks for the register as it stands now (the caller queues the job)."""
    check_may_request(session, agreement)
    audit.record(session, "register_requested", actor, agreement.id)


def is_current(session, agreement) -> bool:
    """Whether the latest register holds every record made so far."""
    register = latest(session, agreement.id)
    return register is not None and register.last_record_id >= _last_record_id(session, agreement.id)


def check_may_request(session, agreement) -> None:
    """Conflict unless the agreement takes accessions and its latest register is out of date."""
    if not status.is_open_for_accession(agreement):
        raise Conflict("Förteckningen görs för en klar överenskommelse.")
    if is_current(session, agreement):
        raise Conflict("Förteckningen är redan aktuell: ingen organisation har anslutit sig sedan den gjordes.")


def due(session) -> list[int]:
    """Open agreements with records added since their register, last made a day ago or more."""
    now = utcnow()
    newest = (
        select(AccessionRecord.agreement_id, func.max(AccessionRecord.id).label("last"))
        .group_by(AccessionRecord.agreement_id)
        .subquery()
    )
    made = (
        select(
            PartyRegister.agreement_id,
            func.max(PartyRegister.last_record_id).label("covered"),
            func.max(PartyRegister.created_at).label("at"),
        )
        .group_by(PartyRegister.agreement_id)
        .subquery()
    )
    rows = session.execute(
        select(newest.c.agreement_id)
        .outerjoin(made, made.c.agreement_id == newest.c.agreement_id)
        .where((made.c.covered.is_(None)) | ((made.c.covered < newest.c.last) & (made.c.at <= now - AUTOMATIC_EVERY)))
    )
    return list(rows.scalars())


def _facts(session, agreement) -> RegisterFacts:
    version = signing.latest_version(session, agreement.id)
    return RegisterFacts(
        title=agreement.title,
        registration_number=agreement.registration_number,
        version_number=version.number,
        frozen_sha256=version.pdf_sha256,
        made_at=utcnow(),
    )


def _row(party, confirmation, record_label) -> RegisterRow:
    return RegisterRow(
        organisation=party.name,
        org_number=party.org_number,
        confirmed_by=", ".join(x for x in (confirmation.signer_name, confirmation.signer_title) if x),
        place=confirmation.place,
        confirmed_at=confirmation.created_at,
        record=record_label,
    )


def rows(session, agreement, last_record_id):
    """The founding parties that confirmed, then each record up to `last_record_id`."""
    confirmations = signing.confirmations_by_party(session, agreement)
    for party in signing.active_parties(session, agreement):
        if (c := confirmations.get(party.id)) is not None:
            yield _row(party, c, "Slutligt avtal")
    joined = (
        select(AccessionRecord.number, Party, Confirmation)
        .join(Party, AccessionRecord.party_id == Party.id)
        .join(Confirmation, AccessionRecord.confirmation_id == Confirmation.id)
        .where(AccessionRecord.agreement_id == agreement.id, AccessionRecord.id <= last_record_id)
        .order_by(AccessionRecord.number)
        .execution_options(yield_per=1000)
    )
    for number, party, confirmation in session.execute(joined):
        yield _row(party, confirmation, f"Anslutning {number}")


def make(db, files, office, sealer, agreement_id, actor) -> PartyRegister | None:
    """Make, seal and store the register as it stands, unless the latest already holds it.
    The rows are read in one short transaction (30 000 take some 15 MB), laid out after it."""
    with db.session() as session:
        agreement = session.get(Agreement, agreement_id)
        if agreement is None or is_current(session, agreement):
            return None
        last_record_id = _last_record_id(session, agreement_id)
        facts = _facts(session, agreement)
        listed = list(rows(session, agreement, last_record_id))
    pdf = sealer.seal(register_pdf(facts, listed, office))
    stored = {
        "pdf_sha256": files.put(pdf),
        "csv_sha256": files.put(register_csv(facts, listed)),
        "xlsx_sha256": files.put(register_xlsx(facts, listed)),
    }
    with db.session() as session:
        previous = latest(session, agreement_id)
        if previous is not None and previous.last_record_id >= last_record_id:
            return None
        register = PartyRegister(
            agreement_id=agreement_id,
            number=(previous.number + 1) if previous else 1,
            last_record_id=last_record_id,
            rows=len(listed),
            **stored,
        )
        try:
            with session.begin_nested():
                session.add(register)
                session.flush()
        except IntegrityError:  # another run stored one meanwhile
            return None
        audit.record(session, "register_made", actor, agreement_id, number=register.number, rows=len(listed), **stored)
        return register
