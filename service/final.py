"""The final PDF: the frozen agreement's pages unchanged, its one filled signing sheet and the
verification appendix, one tagged PDF/A-2b file with the frozen agreement attached.

The agreement text is never filled or laid out again: what the parties confirmed is the frozen
PDF, and the final PDF is composed from its pages (documents/compose.py). Only the signing sheet
and the appendix are made now, from the confirmations, in one LibreOffice conversion.

Made by a background job when the last party confirms; organisations that join later get
records of their own (accession_records.py), so it is never made again because of them.
The job is idempotent: a final document is keyed by the number of confirmations it
covers, so a job delivered twice (a queue may do that after a crash) stores one file.
"""

import io

from docx import Document
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import audit, signing, status
from .documents.appendix import Evidence, PartyEvidence, append_appendix
from .documents.assemble import ensure_styles
from .documents.compose import compose_final
from .documents.fill import agreement_context, fill_signing_sheet, signature_context
from .errors import Conflict
from .formatting import local_time, xml_text
from .models import Agreement, AuditEvent, FinalDocument, SigningLink
from .schema import validate_agreement

MAX_ATTEMPTS = 5  # then the sweep stops retrying and the officials are told
OTHER_EVENTS = ("revoked", "declined", "answer_voided", "party_added")  # the rest is shown per party or in the text


def _signatures(parties, confirmations) -> dict:
    by_position = {}
    for party in parties:
        c = confirmations.get(party.id)
        if c:
            by_position[party.position] = signature_context(
                xml_text(c.place),
                local_time(c.created_at).date(),
                xml_text(c.signer_name),
                xml_text(c.signer_title),
                c.created_at,
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


def party_evidence(agreement, party, confirmation, link) -> PartyEvidence:
    """What one party's confirmation shows as evidence: where its link went, who sent it, when it
    was opened and confirmed, read from the link itself. Text stored before the forms refused
    XML-illegal characters is made printable. The final appendix and accession records share it."""
    c = confirmation
    return PartyEvidence(
        party=xml_text(party.name),
        org_number=party.org_number,
        email=xml_text(signing.link_address(link)),
        signer=xml_text(", ".join(x for x in (c.signer_name, c.signer_title) if x)),
        place=xml_text(c.place),
        confirmed_at=c.created_at,
        ip=xml_text(c.ip),
        browser=xml_text(c.user_agent),
        sent_at=link.created_at,
        sent_by=xml_text(audit.actor_label(link.issued_by)) if link.issued_by else "",
        opened_at=link.first_opened_at,
        opened_count=link.open_count,  # every open is counted on the link; the trail notes one per day
        flag=xml_text(signing.confirmed_by_other(agreement, party, c)),
    )


def _party_evidence(session, agreement, parties, confirmations) -> list[PartyEvidence]:
    return [
        party_evidence(agreement, party, c, session.get(SigningLink, c.link_id))
        for party in parties
        if (c := confirmations.get(party.id)) is not None
    ]


def _label_with_version(event) -> str:
    """An event as the appendix lists it, with the version an answer concerned."""
    label = audit.EVENT_LABELS.get(event.event, event.event)
    version = event.details.get("version")
    return f"{label}, version {version}" if event.event in ("declined", "answer_voided") and version else label


def gather(session, agreement) -> dict:
    """Everything the signing sheet and the appendix show, read in one short transaction."""
    confirmations = signing.confirmations_by_party(session, agreement)
    version = signing.latest_version(session, agreement.id)
    parties = signing.active_parties(session, agreement)
    events = audit.events_for(session, agreement.id)
    # The frozen text's data, with the parties that joined it later (accession changes nothing else).
    model = validate_agreement(dict(version.data, parties=agreement.data["parties"]), for_sending=False)
    return {
        "model": model,
        "signatures": _signatures(parties, confirmations),
        "confirmation_count": len(confirmations),
        "version_id": version.id,
        "frozen_sha256": version.pdf_sha256,
        "evidence": Evidence(
            title=model.title,
            running_title=agreement_context(model)["running_title"],
            registration_number=model.registration_number,
            version_number=version.number,
            frozen_at=version.created_at,
            frozen_sha256=version.pdf_sha256,
            attachment_name=f"avtal-version-{version.number}.pdf",
            parties=_party_evidence(session, agreement, parties, confirmations),
            events=[
                {
                    "at": e.created_at,
                    "label": _label_with_version(e),
                    "party": xml_text(e.details.get("party", "")),
                    "ip": xml_text(e.ip),
                }
                for e in events
                if e.event in OTHER_EVENTS
            ],
        ),
    }


def appendix_docx(facts) -> bytes:
    """The filled signing sheet, then the verification appendix: the part made anew."""
    doc = Document(io.BytesIO(fill_signing_sheet(facts["model"], facts["signatures"])))
    ensure_styles(doc, ["Heading1", "Heading2", "TableGrid", "Header"])
    append_appendix(doc, facts["evidence"])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def build_final_pdf(facts, files, office) -> bytes:
    """The frozen pages unchanged, the sheet and appendix converted once, the frozen file attached."""
    evidence = facts["evidence"]
    return compose_final(
        files.get(facts["frozen_sha256"]),
        office.convert(appendix_docx(facts), pdfa=True),
        evidence.attachment_name,
        f"Avtalstexten som parterna bekräftade (version {evidence.version_number}), SHA-256 {facts['frozen_sha256']}",
    )


def confirmed_state(session, agreement) -> int:
    """The state of the agreement a final PDF belongs to: how many parties' current answers are
    confirmations (parties who join later make a new state, and a new final PDF)."""
    return len(signing.confirmations_by_party(session, agreement))


def assemble_final(db, files, office, sealer, agreement_id) -> FinalDocument | None:
    """Build and store the final PDF if the agreement is complete and this state has none yet.

    LibreOffice works between two short transactions, so confirmations are never kept
    waiting for it; the second transaction stores the result only if no other delivery
    of the job got there first.
    """
    with db.session() as session:
        agreement = session.get(Agreement, agreement_id)
        if agreement is None or not status.is_completed(agreement):
            return None
        count = confirmed_state(session, agreement)
        if _final_exists(session, agreement_id, count):
            return None
        facts = gather(session, agreement)

    final = sealer.seal(build_final_pdf(facts, files, office))  # last: nothing may rewrite the PDF after it
    digest = files.put(final)

    with db.session() as session:
        if _final_exists(session, agreement_id, facts["confirmation_count"]):
            return None
        number = len(session.scalars(select(FinalDocument.id).where(FinalDocument.agreement_id == agreement_id)).all())
        document = FinalDocument(
            agreement_id=agreement_id,
            number=number + 1,
            version_id=facts["version_id"],
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
    if not status.is_completed(agreement):
        return None
    count = confirmed_state(session, agreement)
    return session.scalars(
        select(FinalDocument).where(
            FinalDocument.agreement_id == agreement.id, FinalDocument.confirmation_count == count
        )
    ).first()


def failed_attempts(session, agreement_id, confirmation_count) -> int:
    """How often the final PDF of this state (its number of confirmations) has failed since an
    official last asked for it to be tried again."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.agreement_id == agreement_id, AuditEvent.event.in_(("final_failed", "final_retried")))
        .order_by(AuditEvent.id)
    )
    failures = 0
    for e in events:
        if e.details.get("confirmations") == confirmation_count:
            failures = 0 if e.event == "final_retried" else failures + 1
    return failures


def record_failure(db, agreement_id, error) -> int:
    """Note a failed attempt in the audit trail; returns how many this state has had."""
    with db.session() as session:
        agreement = session.get(Agreement, agreement_id)
        count = confirmed_state(session, agreement)
        audit.record(session, "final_failed", audit.SYSTEM, agreement_id, confirmations=count, error=repr(error)[:300])
        return failed_attempts(session, agreement_id, count)


def _gave_up(session, agreement) -> bool:
    """Whether the final PDF of the agreement's present state failed MAX_ATTEMPTS times."""
    count = confirmed_state(session, agreement)
    return failed_attempts(session, agreement.id, count) >= MAX_ATTEMPTS


def final_problem(session, agreement) -> str | None:
    """What the agreement page says when its final PDF could not be made and is no longer retried."""
    if not status.is_completed(agreement) or current_final(session, agreement) or not _gave_up(session, agreement):
        return None
    return (
        f"Den slutliga PDF:en kunde inte skapas efter {MAX_ATTEMPTS} försök och görs inte om automatiskt. "
        "Handläggarna har fått e-post. Kontakta tjänstens förvaltning, och försök igen när felet är åtgärdat."
    )


def retry(session, agreement, actor) -> None:
    """An official asks for MAX_ATTEMPTS new attempts at a final PDF the job gave up on; the
    caller queues the job. Conflict when nothing has been given up."""
    if final_problem(session, agreement) is None:
        raise Conflict("Den slutliga PDF:en väntar inte på ett nytt försök.")
    count = confirmed_state(session, agreement)
    audit.record(session, "final_retried", actor, agreement.id, confirmations=count)


def agreements_missing_final(session) -> list[int]:
    """Completed agreements whose newest state has no final PDF (e.g. a job lost in a crash),
    unless making it has already failed MAX_ATTEMPTS times."""
    completed = session.scalars(select(Agreement).where(status.is_completed(Agreement)))
    return [a.id for a in completed if current_final(session, a) is None and not _gave_up(session, a)]
