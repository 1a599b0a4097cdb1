"""Open accession: organisations that join a completed överenskommelse, each with a record of its own.

The founding parties' final PDF stays as it was signed. Each organisation that joins later
confirms the same frozen text through its own link, and its confirmation becomes a short sealed
PDF/A of its own, "Anslutning N till …", which names the frozen text by its SHA-256 (the archive
keeps that text once). As registries file them: the agreement, then each accession as it arrives.

Every cost here is per organisation, read by index, so the 30 000th costs what the 10th does.
A record is made by the job queue after the confirmation's commit; the sweep makes any a crash
lost, and the unique confirmation key makes a record once whatever runs twice.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import audit, final, signing
from .documents.accession_record import AccessionFacts, accession_record_docx
from .errors import NotFound
from .models import AccessionRecord, Agreement, Confirmation, Party, SigningLink, Version

PAGE_SIZE = 50  # organisations per page on the agreement page, the archive page and the API
SWEEP_BATCH = 100  # records the sweep queues at most per minute


def _missing_record():
    """SQL: confirmations by organisations that joined later which have no record yet."""
    return (
        select(Confirmation.id)
        .join(Party, Confirmation.party_id == Party.id)
        .outerjoin(AccessionRecord, AccessionRecord.confirmation_id == Confirmation.id)
        .where(Party.acceded.is_(True), Confirmation.decision == "confirmed", AccessionRecord.id.is_(None))
    )


def missing_records(session) -> list[int]:
    """Confirmations whose record a crash lost between their commit and the job (oldest first)."""
    return list(session.scalars(_missing_record().order_by(Confirmation.id).limit(SWEEP_BATCH)))


def needs_record(confirmation) -> bool:
    """Whether an answer is an accession the record job must make a record of."""
    return confirmation.decision == "confirmed" and confirmation.party.acceded


def gather(session, confirmation_id) -> tuple[AccessionFacts, int, int] | None:
    """The record's facts, with the next record number and the agreement id; None if it is made."""
    confirmation = session.get(Confirmation, confirmation_id)
    if confirmation is None or session.scalar(_missing_record().where(Confirmation.id == confirmation_id)) is None:
        return None
    party = confirmation.party
    agreement = session.get(Agreement, party.agreement_id)
    version = session.get(Version, confirmation.version_id)
    link = session.get(SigningLink, confirmation.link_id)
    last = session.scalar(select(func.max(AccessionRecord.number)).where(AccessionRecord.agreement_id == agreement.id))
    number = (last or 0) + 1
    facts = AccessionFacts(
        title=agreement.title,
        registration_number=agreement.registration_number,
        version_number=version.number,
        frozen_sha256=version.pdf_sha256,
        number=number,
        evidence=final.party_evidence(agreement, party, confirmation, link),
    )
    return facts, number, agreement.id


def make_record(db, files, office, sealer, confirmation_id) -> AccessionRecord | None:
    """Make, seal and store the confirmation's record, unless it exists. LibreOffice works between
    two short transactions; a number another record took meanwhile is taken again."""
    while True:
        with db.session() as session:
            gathered = gather(session, confirmation_id)
        if gathered is None:
            return None
        facts, number, agreement_id = gathered
        sealed = sealer.seal(office.convert(accession_record_docx(facts), pdfa=True))
        digest = files.put(sealed)
        with db.session() as session:
            confirmation = session.get(Confirmation, confirmation_id)
            record = AccessionRecord(
                agreement_id=agreement_id,
                number=number,
                party_id=confirmation.party_id,
                confirmation_id=confirmation_id,
                version_id=confirmation.version_id,
                sha256=digest,
            )
            try:
                with session.begin_nested():
                    session.add(record)
                    session.flush()
            except IntegrityError:  # made meanwhile, or its number taken: gather again
                continue
            audit.record(
                session,
                "accession_recorded",
                audit.SYSTEM,
                agreement_id,
                party=confirmation.party.name,
                org_number=confirmation.party.org_number,
                number=number,
                sha256=digest,
                confirmation_id=confirmation_id,
            )
            return record


def download_record(session, files, agreement_id, number, actor) -> tuple[AccessionRecord, bytes]:
    """An accession record's sealed PDF, noted in the audit trail as downloaded; NotFound if none."""
    record = session.scalar(
        select(AccessionRecord).where(AccessionRecord.agreement_id == agreement_id, AccessionRecord.number == number)
    )
    if record is None:
        raise NotFound(f"Avtalet har ingen anslutning {number}.")
    audit.record(session, "downloaded", actor, agreement_id, record=number, sha256=record.sha256)
    return record, files.get(record.sha256)


@dataclass
class Joined:
    """One organisation that joined, with its current answer and record, for the pages and the API."""

    party: Party
    answer: Confirmation | None
    record: AccessionRecord | None

    @property
    def status(self) -> str:
        return self.answer.decision if self.answer is not None else "pending"


@dataclass
class JoinedPage:
    rows: list[Joined]
    next_after: int | None  # the position to continue after, None on the last page


def joined_page(session, agreement, after: int | None = None, size: int = PAGE_SIZE) -> JoinedPage:
    """A page of the organisations that joined, in the order they joined, after position `after`."""
    query = select(Party).where(Party.agreement_id == agreement.id, Party.acceded.is_(True))
    if after is not None:
        query = query.where(Party.position > after)
    parties = list(session.scalars(query.order_by(Party.position).limit(size + 1)))
    more = len(parties) > size
    parties = parties[:size]
    ids = [p.id for p in parties]
    version = signing.latest_version(session, agreement.id)
    current = signing.current_answer_ids(version.id, ids)
    answers = {c.party_id: c for c in session.scalars(select(Confirmation).where(Confirmation.id.in_(current)))}
    records = {r.party_id: r for r in session.scalars(select(AccessionRecord).where(AccessionRecord.party_id.in_(ids)))}
    rows = [Joined(p, answers.get(p.id), records.get(p.id)) for p in parties]
    return JoinedPage(rows, parties[-1].position if more else None)


@dataclass
class JoinedCounts:
    joined: int
    confirmed: int
    declined: int
    records: int

    @property
    def pending(self) -> int:
        return self.joined - self.confirmed - self.declined


def counts(session, agreement) -> JoinedCounts:
    """How many organisations joined, confirmed and declined, and how many records are made."""
    joined = select(Party.id).where(Party.agreement_id == agreement.id, Party.acceded.is_(True))
    current = signing.current_answer_ids(signing.latest_version(session, agreement.id).id, joined)
    decisions = dict(
        session.execute(
            select(Confirmation.decision, func.count(Confirmation.id))
            .where(Confirmation.id.in_(current))
            .group_by(Confirmation.decision)
        ).all()
    )
    records = session.scalar(select(func.count(AccessionRecord.id)).where(AccessionRecord.agreement_id == agreement.id))
    return JoinedCounts(agreement.acceded_count, decisions.get("confirmed", 0), decisions.get("declined", 0), records)


def records_of(session, agreement_id):
    """Every accession record of the agreement, in number order, streamed."""
    query = select(AccessionRecord).where(AccessionRecord.agreement_id == agreement_id)
    return session.scalars(query.order_by(AccessionRecord.number).execution_options(yield_per=500))
