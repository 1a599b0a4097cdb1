"""Bulk accession for officials: upload a list of organisations, read the report per
row, then let the job queue send the links and follow its progress."""

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import accession, mail
from ..agreements import get_agreement, handled_agreement
from ..errors import AvtalError
from ..models import Accession
from ..roles import DRAFTERS, require_handler
from .auth import login_required
from .context import db, files, request_actor

bp = Blueprint("accessions", __name__, url_prefix="/avtal")


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
        return render_template(
            "drafting/accession.html",
            agreement=agreement,
            accession=found,
            reports=reports,
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
            added = accession.accept(
                session, files(), found, request_actor(), can_email=mail.is_configured(current_app)
            )
    except AvtalError as exc:
        flash(exc.message, "error")
    else:
        current_app.extensions["jobs"].enqueue_accession(accession_id)
        flash(f"{len(added)} organisationer är anslutna. Länkarna skickas nu med e-post.")
    return redirect(url_for(".show", agreement_id=agreement_id, accession_id=accession_id))
