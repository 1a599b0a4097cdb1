"""Retention (gallring) of what is not a record, after periods from settings, each removal
recorded in the audit trail.

Removed here: previews of drafts (AVTAL_PREVIEW_RETENTION_DAYS, by the file's last use) and the
answers kept for an API Idempotency-Key (AVTAL_IDEMPOTENCY_RETENTION_DAYS; a client retries
within minutes, not days). Never removed: versions, confirmations, final PDFs, accession
records and the audit trail, which are records (allmänna handlingar) kept under the archive rules.
"""

import time
from datetime import timedelta

from sqlalchemy import delete, select

from . import audit
from .models import IdempotencyKey, utcnow

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


def run(app) -> dict[str, int]:
    """Everything due for removal now, as the sweep and `flask retention` run it."""
    config = app.config
    with app.extensions["db"].session() as session:
        answers = remove_expired_idempotency_answers(session, config["IDEMPOTENCY_RETENTION_DAYS"])
    with app.extensions["db"].session() as session:
        previews = remove_old_previews(session, app.extensions["previews"], config["PREVIEW_RETENTION_DAYS"])
    return {"idempotency_answers": answers, "previews": previews}
