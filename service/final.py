"""The final PDF: agreement + signing sheet + verification appendix, one PDF/A-2b file.

Made by a background job when the last party confirms, and again after each accession.
The job is idempotent: a final document is keyed by the number of confirmations it
covers, so a job delivered twice (a queue may do that after a crash) stores one file.
"""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import audit, signing
from .documents.appendix import build_appendix
from .documents.assemble import merge_pdfs
from .documents.fill import fill_signing_sheet, signature_context
from .documents.seal import seal_pdf, without_seal
from .formatting import local_time
from .models import Agreement, FinalDocument
from .schema import validate_agreement

LINK_EVENTS = ("version_frozen", "link_issued", "link_opened", "confirmed", "declined", "revoked", "party_added")


def _signatures(parties, confirmations) -> dict:
    by_position = {}
    for party in parties:
        c = confirmations.get(party.id)
        if c:
            by_position[party.position] = signature_context(
                c.place, local_time(c.created_at).date(), c.signer_name, c.signer_title, c.created_at
            )
    return by_position


def _final_exists(session, agreement_id, confirmation_count) -> bool:
    return (
        session.scalars(
            select(FinalDocument.id).where(
                FinalDocument.agreement_id == agreement_id, FinalDocument.confirmation_count == confirmation_count
            )
        ).first()
        is not None
    )


def _gather(session, agreement):
    """Everything the final PDF shows, read in one short transaction."""
    confirmations = signing.confirmations_by_party(session, agreement)
    version = signing.latest_version(session, agreement.id)
    parties = signing.active_parties(session, agreement)
    events = [
        {
            "at": e.created_at,
            "label": audit.EVENT_LABELS.get(e.event, e.event),
            "party": e.details.get("party", ""),
            "ip": e.ip,
        }
        for e in audit.events_for(session, agreement.id)
        if e.event in LINK_EVENTS
    ]
    rows = [
        {
            "party": p.name,
            "name": c.signer_name,
            "title": c.signer_title,
            "place": c.place,
            "at": c.created_at,
            "ip": c.ip,
        }
        for p in parties
        if (c := confirmations.get(p.id))
    ]
    return {
        "model": validate_agreement(agreement.data),
        "title": agreement.title,
        "registration_number": agreement.registration_number,
        "version": version,
        "confirmation_count": len(confirmations),
        "signatures": _signatures(parties, confirmations),
        "rows": rows,
        "events": events,
    }


def assemble_final(db, files, office, agreement_id) -> FinalDocument | None:
    """Build and store the final PDF if the agreement is complete and this state has none yet.

    LibreOffice works between two short transactions, so confirmations are never kept
    waiting for it; the second transaction stores the result only if no other delivery
    of the job got there first.
    """
    with db.session() as session:
        agreement = session.get(Agreement, agreement_id)
        if agreement is None or agreement.status != "completed":
            return None
        count = len(signing.confirmations_by_party(session, agreement))
        if _final_exists(session, agreement_id, count):
            return None
        facts = _gather(session, agreement)

    version = facts["version"]
    sheet = office.convert(fill_signing_sheet(facts["model"], facts["signatures"]), pdfa=True)
    appendix = office.convert(
        build_appendix(facts["title"], facts["registration_number"], version, facts["rows"], facts["events"]),
        pdfa=True,
    )
    frozen = files.get(version.pdf_sha256)
    final = merge_pdfs([without_seal(frozen), sheet, appendix], {f"avtal-version-{version.number}.pdf": frozen})
    final = seal_pdf(final)  # last: nothing may rewrite the PDF after it is sealed
    digest = files.put(final)

    with db.session() as session:
        if _final_exists(session, agreement_id, facts["confirmation_count"]):
            return None
        number = len(session.scalars(select(FinalDocument.id).where(FinalDocument.agreement_id == agreement_id)).all())
        document = FinalDocument(
            agreement_id=agreement_id,
            number=number + 1,
            version_id=version.id,
            confirmation_count=facts["confirmation_count"],
            sha256=digest,
        )
        try:
            with session.begin_nested():
                session.add(document)
                session.flush()
        except IntegrityError:  # another process stored the same state meanwhile
            return None
        audit.record(session, "final_assembled", audit.SYSTEM, agreement_id, sha256=digest, number=document.number)
        return document


def current_final(session, agreement) -> FinalDocument | None:
    """The final PDF of the agreement's present state: None unless it is completed and the
    job has made it (after an accession the earlier final PDF covers fewer parties)."""
    if agreement.status != "completed":
        return None
    count = len(signing.confirmations_by_party(session, agreement))
    return session.scalars(
        select(FinalDocument).where(
            FinalDocument.agreement_id == agreement.id, FinalDocument.confirmation_count == count
        )
    ).first()


def agreements_missing_final(session) -> list[int]:
    """Completed agreements whose newest state has no final PDF (e.g. a job lost in a crash)."""
    completed = session.scalars(select(Agreement).where(Agreement.status == "completed"))
    return [agreement.id for agreement in completed if current_final(session, agreement) is None]
