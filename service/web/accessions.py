"""Open accession for officials: upload a list of organisations, read the report per row,
then let the job queue join them and send the links and follow its progress; the accession
records and the register of parties, for officials and archivists."""

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import accession, accession_records, mail, party_register, registry
from ..agreements import get_agreement, handled_agreement
from ..errors import AvtalError
from ..models import Accession
from ..roles import DRAFTERS, READERS, require_handler
from ..status import is_open_for_accession
from .auth import login_required
from .context import attachment, db, files, request_actor

bp = Blueprint("accessions", __name__, url_prefix="/avtal")
SHOWN_ROWS = 200  # a longer list's report shows its rows with errors only, at most this many


def joined_context(session, agreement) -> dict:
    """For an agreement page (the official's or the archive's): the organisations that joined
    later, a page at a time (?anslutna_efter=position), their counts and the latest register of
    parties; empty for an agreement no one can join."""
    if not is_open_for_accession(agreement):
        return {}
    after = request.args.get("anslutna_efter", type=int)
    return {
        "joined": accession_records.joined_page(session, agreement, after),
        "joined_counts": accession_records.counts(session, agreement),
        "joined_from_start": after is not None,
        "register": party_register.latest(session, agreement.id),
        "register_current": party_register.is_current(session, agreement),
    }


@bp.route("/<int:agreement_id>/anslut-lista", methods=("GET", "POST"))
@login_required(*DRAFTERS)
def upload(agreement_id):
    problem, status = None, 200
    with db().session() as session:
        agreement = get_agreement(session, agreement_id)
        if request.method == "POST":
            require_handler(session, g.user, agreement)
            upload = request.files.get("file")
            try:
                if not upload or not upload.filename:
                    raise accession.AccessionError("Välj en fil med organisationerna (.csv eller .xlsx).")
                content = upload.read()
                stored = accession.store(session, files(), agreement, upload.filename, content, g.user)
            except AvtalError as exc:
                problem, status = exc.message, 400
            else:
                return redirect(url_for(".show", agreement_id=agreement_id, accession_id=stored.id))
        earlier = session.scalars(
            select(Accession).where(Accession.agreement_id == agreement_id).order_by(Accession.id.desc())
        ).all()
        return render_template(
            "drafting/accession_upload.html",
            agreement=agreement,
            problem=problem,
            earlier=earlier,
            columns=accession.COLUMN_LABELS,
        ), status


@bp.get("/<int:agreement_id>/anslut-lista/<int:accession_id>")
@login_required(*DRAFTERS)
def show(agreement_id, accession_id):
    with db().session() as session:
        agreement = get_agreement(session, agreement_id)
        found = accession.get_accession(session, agreement_id, accession_id)
        reports = accession.report_for(session, files(), found) if found.status == "checked" else []
        shown = reports if len(reports) <= SHOWN_ROWS else [r for r in reports if not r.ok][:SHOWN_ROWS]
        return render_template(
            "drafting/accession.html",
            agreement=agreement,
            accession=found,
            reports=reports,
            shown=shown,
            valid=sum(1 for r in reports if r.ok),
            progress=accession.progress(session, found) if found.status != "checked" else None,
            can_email=mail.is_configured(current_app),
        )


@bp.post("/<int:agreement_id>/anslut-lista/<int:accession_id>/anslut")
@login_required(*DRAFTERS)
def accept(agreement_id, accession_id):
    try:
        with db().session() as session:
            handled_agreement(session, agreement_id, g.user)
            found = accession.get_accession(session, agreement_id, accession_id)
            rows = accession.accept(session, found, request_actor(), can_email=mail.is_configured(current_app))
    except AvtalError as exc:
        flash(exc.message, "error")
    else:
        current_app.extensions["jobs"].enqueue_accession(accession_id)
        flash(f"Listans {rows} rader ansluts nu, och länkarna skickas med e-post. Förloppet syns här.")
    return redirect(url_for(".show", agreement_id=agreement_id, accession_id=accession_id))


@bp.get("/<int:agreement_id>/anslutning-<int:number>.pdf")
@login_required(*READERS)
def record_pdf(agreement_id, number):
    with db().session() as session:
        record, data = accession_records.download_record(session, files(), agreement_id, number, request_actor())
        stem = registry.file_stem(get_agreement(session, agreement_id))
    return attachment(data, "application/pdf", f"{stem}-anslutning-{record.number}.pdf")


@bp.get("/<int:agreement_id>/forteckning-<int:number>.<ending>")
@login_required(*READERS)
def register_file(agreement_id, number, ending):
    with db().session() as session:
        register, data, content_type = party_register.download(
            session, files(), agreement_id, number, ending, request_actor()
        )
        stem = registry.file_stem(get_agreement(session, agreement_id))
    return attachment(data, content_type, f"{stem}-forteckning-{register.number}.{ending}")


@bp.post("/<int:agreement_id>/forteckning")
@login_required(*DRAFTERS)
def request_register(agreement_id):
    """A handläggare asks for the register of parties as it stands now."""
    try:
        with db().session() as session:
            party_register.request(session, handled_agreement(session, agreement_id, g.user), request_actor())
    except AvtalError as exc:
        flash(exc.message, "error")
    else:
        current_app.extensions["jobs"].enqueue_register(agreement_id, f"user:{g.user.email}")
        flash("Förteckningen görs nu. Ladda om sidan om en stund för att hämta den.")
    return redirect(url_for("drafting.show", agreement_id=agreement_id, _anchor="anslutna"))
