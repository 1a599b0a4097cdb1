"""The archive: find agreements, download final PDFs and the audit trail.

Archivists and officials may read here. Nothing is changed, except that every
download is appended to the audit trail.
"""

from datetime import date

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import func, select

from .. import agreements, audit, listing, registry, signing
from ..audit import EVENT_LABELS
from ..errors import Conflict
from ..models import FinalDocument
from ..records import archive_package
from ..roles import READERS
from ..schema import KIND_LABELS
from ..status import is_completed
from .accessions import joined_context
from .auth import login_required
from .context import attachment, db, files, final_pdf_download, request_actor
from .security import error_response

bp = Blueprint("archive", __name__, url_prefix="/arkiv")

DEFAULT_STATUS = "completed"
DATE_ERROR = "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2021-01-01."


@bp.get("")
@login_required(*READERS)
def index():
    form = {name: request.args.get(name, "").strip() for name in ("q", "org", "dnr", "from", "to")}
    form["status"] = request.args.get("status", DEFAULT_STATUS)
    form["sort"] = request.args.get("sort", "updated")
    if form["sort"] not in listing.SORT_LABELS:
        form["sort"] = "updated"
    period_from, period_to, errors = _period(form["from"], form["to"])
    if form["status"] and form["status"] not in agreements.STATUS_LABELS:
        errors["status"] = "Välj en status i listan."
    filters = listing.Filters(
        text=form["q"],
        status=form["status"],
        org_number=form["org"],
        registration_number=form["dnr"],
        period_from=period_from,
        period_to=period_to,
    )
    with db().session() as session:
        page, total = listing.Page([], None), 0
        if not errors:
            try:
                page = listing.find(session, filters, form["sort"], listing.PAGE_SIZE, request.args.get("cursor"))
            except listing.ListingError as exc:
                abort(error_response(400, exc.message))
            total = listing.count(session, filters)
        ids = [row.agreement.id for row in page.rows]
        return render_template(
            "archive/index.html",
            form=form,
            errors=errors,
            page=page,
            total=total,
            party_names=listing.first_parties(session, ids),
            final_counts=_final_counts(session, ids),
            status_labels=agreements.STATUS_LABELS,
            sorts=listing.SORT_LABELS,
        ), 400 if errors else 200


def _period(start, end):
    """The search period as dates, and Swedish errors for the fields that are not dates."""
    errors = {}
    dates = []
    for name, value in (("from", start), ("to", end)):
        try:
            dates.append(date.fromisoformat(value) if value else None)
        except ValueError:
            errors[name] = DATE_ERROR
            dates.append(None)
    if all(dates) and dates[0] > dates[1]:
        errors["to"] = "Slutdatumet kan inte vara före startdatumet."
    return dates[0], dates[1], errors


def _final_counts(session, agreement_ids) -> dict[int, int]:
    rows = session.execute(
        select(FinalDocument.agreement_id, func.count(FinalDocument.id))
        .where(FinalDocument.agreement_id.in_(agreement_ids))
        .group_by(FinalDocument.agreement_id)
    )
    return dict(rows.all())


@bp.get("/<int:agreement_id>")
@login_required(*READERS)
def show(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        after = request.args.get("logg_efter", type=int)
        events, events_next = audit.events_page(session, agreement.id, after)
        return render_template(
            "archive/show.html",
            agreement=agreement,
            kind_label=KIND_LABELS.get(agreement.kind, agreement.kind),
            status_label=agreements.STATUS_LABELS.get(agreement.status, agreement.status),
            parties=signing.active_parties(session, agreement),
            answers=signing.answers_by_party(session, agreement),
            events=events,
            events_next=events_next,
            events_from_start=after is not None,
            event_labels=EVENT_LABELS,
            broken=audit.verify_chain(session),
            process=registry.label_of(session, agreement.data.get("classification", "")),
            may_change=False,
            **joined_context(session, agreement),
        )


@bp.get("/<int:agreement_id>/slutlig/<int:number>.pdf")
@login_required(*READERS)
def final_pdf(agreement_id, number):
    return final_pdf_download(agreement_id, number)


@bp.get("/<int:agreement_id>/version/<int:number>.pdf")
@login_required(*READERS)
def version_pdf(agreement_id, number):
    """A frozen version of the agreement text, as the parties confirmed it."""
    with db().session() as session:
        _, data = agreements.download_version(session, files(), agreement_id, number, request_actor())
        stem = registry.file_stem(agreements.get_agreement(session, agreement_id))
    return attachment(data, "application/pdf", f"{stem}-version-{number}.pdf")


@bp.get("/<int:agreement_id>/logg.json")
@login_required(*READERS)
def log_json(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        data = audit.trail_json(agreement, audit.events_for(session, agreement.id))
        audit.record(session, "downloaded", request_actor(), agreement.id, what="logg.json")
        stem = registry.file_stem(agreement)
    return attachment(data, "application/json", f"{stem}-logg.json")


@bp.get("/<int:agreement_id>/logg.csv")
@login_required(*READERS)
def log_csv(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        events = audit.events_for(session, agreement.id)
        audit.record(session, "downloaded", request_actor(), agreement.id, what="logg.csv")
        stem = registry.file_stem(agreement)
    return attachment(audit.trail_csv(events), "text/csv; charset=utf-8", f"{stem}-logg.csv")


@bp.get("/arkivpaket.zip")
@login_required(*READERS)
def packages():
    """Archive packages for every agreement completed in a period, each with its SHA-256 beside it."""
    start, end, errors = _period(request.args.get("fran", ""), request.args.get("till", ""))
    if errors or not (start and end):
        abort(error_response(400, errors.get("to") or DATE_ERROR))
    with db().session() as session:
        agreement_ids = archive_package.completed_between(session, start, end)
    if not agreement_ids:
        abort(error_response(404, f"Inga avtal blev klara från {start} till och med {end}. Välj en annan period."))
    made = [_export(agreement_id) for agreement_id in agreement_ids]
    return attachment(archive_package.bundle(made), "application/zip", f"arkivpaket-{start}-{end}.zip")


@bp.get("/<int:agreement_id>/arkivpaket.zip")
@login_required(*READERS)
def package(agreement_id):
    """The agreement's E-ARK archive package; the export and its SHA-256 go into the trail."""
    with db().session() as session:
        if not is_completed(agreements.get_agreement(session, agreement_id)):
            raise Conflict("Arkivpaket kan bara skapas för avtal som är klara.")
    made = _export(agreement_id)
    return attachment(made.data, "application/zip", made.filename)


def _export(agreement_id) -> archive_package.Package:
    submission = current_app.config["SUBMISSION_AGREEMENT"]
    return archive_package.export_agreement(db(), files(), agreement_id, request_actor(), submission)
