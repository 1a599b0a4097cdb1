"""Retention (gallring) of what is not a record, after periods from settings, each removal
recorded in the audit trail.

Removed here: drafts never sent (AVTAL_DRAFT_RETENTION_DAYS after their last change: their
form data, party rows and every saved copy in the file store; the agreement row stays, emptied,
since the audit trail names it), previews of drafts (AVTAL_PREVIEW_RETENTION_DAYS, by the file's
last use) and the answers kept for an API Idempotency-Key (AVTAL_IDEMPOTENCY_RETENTION_DAYS; a
client retries within minutes, not days). Never removed: versions, confirmations, final PDFs, accession
records and the audit trail, which are records (allmänna handlingar) kept under the archive rules.
"""

import time
from datetime import timedelta

from sqlalchemy import delete, exists, select

from . import audit, listing, status
from .models import Agreement, AuditEvent, IdempotencyKey, Party, Version, utcnow

DAY = 24 * 60 * 60


def remove_expired_idempotency_answers(session, days: int) -> int:
    """Delete answered Idempotency-Keys older than `days`; one audit event names how many and which."""
    cutoff = utcnow() - timedelta(days=days)
    expired = select(IdempotencyKey.id).where(
        IdempotencyKey.created_at < cutoff, IdempotencyKey.status_code.is_not(None)
    )
    ids = list(session.scalars(expired.order_by(IdempotencyKey.id)))
    if ids:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))
        audit.record(session, "retention", audit.SYSTEM, what="idempotency_answers", count=len(ids), ids=ids, days=days)
    return len(ids)


def remove_old_previews(session, previews, days: int) -> int:
    """Delete preview files not used for `days`; one audit event per agreement whose previews went."""
    cutoff = time.time() - days * DAY
    removed: dict[int, int] = {}
    for path in previews.root.glob("*.pdf") if previews.root.is_dir() else ():
        number = path.name.split("-", 1)[0]
        if number.isdigit() and path.stat().st_mtime < cutoff:
            agreement_id = int(number)
            path.unlink(missing_ok=True)
            removed[agreement_id] = removed.get(agreement_id, 0) + 1
    for agreement_id, count in sorted(removed.items()):
        audit.record(session, "retention", audit.SYSTEM, agreement_id, what="previews", count=count, days=days)
    return sum(removed.values())


def remove_unsent_drafts(session, files, days: int) -> int:
    """Empty each draft never sent and unchanged for `days`; one audit event per draft, naming the files removed."""
    cutoff = utcnow() - timedelta(days=days)
    never_sent = ~exists().where(Version.agreement_id == Agreement.id)
    due = select(Agreement).where(
        status.is_draft(Agreement), Agreement.removed_at.is_(None), Agreement.updated_at < cutoff, never_sent
    )
    drafts = list(session.scalars(due.order_by(Agreement.id)))
    for agreement in drafts:
        saved = _saved_copies(session, agreement)
        emptied = {"kind": agreement.kind, "parties": []}
        agreement.data, agreement.title, agreement.registration_number = emptied, "", ""
        agreement.data_sha256 = files.put(b"{}")  # nothing of the draft is left to point at
        for column, value in listing.index_columns(emptied).items():
            setattr(agreement, column, value)
        agreement.removed_at = utcnow()
        session.execute(delete(Party).where(Party.agreement_id == agreement.id))
        session.flush()
        removable = [digest for digest in saved if not _kept_elsewhere(session, digest, agreement.id)]
        audit.record(session, "retention", audit.SYSTEM, agreement.id, what="draft", files=removable, days=days)
        for digest in removable:  # after the event: a crash here leaves a file, never an unrecorded removal
            files.remove(digest)
    return len(drafts)


def _saved_copies(session, agreement) -> set[str]:
    """Every copy of the draft's data the file store holds: the current one and each one saved before."""
    events = select(AuditEvent.details).where(
        AuditEvent.agreement_id == agreement.id, AuditEvent.event.in_(("created", "draft_saved"))
    )
    saved = {details.get("data_sha256") for details in session.scalars(events)}
    return {digest for digest in saved | {agreement.data_sha256} if digest}


def _kept_elsewhere(session, digest, agreement_id) -> bool:
    """Whether another agreement's data is the same bytes (content addressing shares the file)."""
    current = select(Agreement.id).where(Agreement.data_sha256 == digest, Agreement.id != agreement_id)
    earlier = select(AuditEvent.id).where(
        AuditEvent.details["data_sha256"].as_string() == digest, AuditEvent.agreement_id != agreement_id
    )
    return (
        session.scalars(current.limit(1)).first() is not None or session.scalars(earlier.limit(1)).first() is not None
    )


def run(app) -> dict[str, int]:
    """Everything due for removal now, as the sweep and `flask retention` run it."""
    config = app.config
    with app.extensions["db"].session() as session:
        drafts = remove_unsent_drafts(session, app.extensions["files"], config["DRAFT_RETENTION_DAYS"])
    with app.extensions["db"].session() as session:
        answers = remove_expired_idempotency_answers(session, config["IDEMPOTENCY_RETENTION_DAYS"])
    with app.extensions["db"].session() as session:
        previews = remove_old_previews(session, app.extensions["previews"], config["PREVIEW_RETENTION_DAYS"])
    return {"drafts": drafts, "idempotency_answers": answers, "previews": previews}
