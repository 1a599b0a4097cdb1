"""Word templates officials upload: checked before they are kept, listed for new drafts."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import custom_templates, text
from ..formatting import join_sv
from ..models import CustomTemplate
from ..roles import DRAFTERS
from ..schema import KIND_LABELS
from .auth import login_required
from .context import db, files, request_actor

bp = Blueprint("uploads", __name__, url_prefix="/avtal")


@bp.route("/mallar", methods=("GET", "POST"))
@login_required(*DRAFTERS)
def templates():
    errors, reasons, status = {}, [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        kind = request.form.get("kind", "")
        typed, errors = text.field_errors(
            {"name": ("Mallens namn", request.form.get("name", ""), text.TEMPLATE_NAME_MAX, False, True)}
        )
        if not upload or not upload.filename:
            errors["file"] = "Välj en Word-fil (.docx) att ladda upp."
        if kind not in KIND_LABELS:
            errors["kind"] = "Välj vilken avtalstyp mallen är gjord för."
        if not errors:
            name = typed["name"] or custom_templates.name_from_filename(upload.filename)
            data = upload.read()
            try:
                with db().session() as session:
                    template = custom_templates.store_template(session, files(), data, name, kind, g.user)
            except custom_templates.TemplateRejected as exc:
                reasons = exc.reasons
                with db().session() as session:
                    custom_templates.record_refusal(session, data, kind, reasons, request_actor())
            else:
                flash(f"Mallen {template.name} är sparad. Den använder: {join_sv(template.variables)}.")
                return redirect(url_for(".templates"))
        status = 400
    with db().session() as session:
        rows = session.scalars(select(CustomTemplate).order_by(CustomTemplate.id.desc())).all()
    return render_template(
        "drafting/templates.html",
        rows=rows,
        errors=errors,
        reasons=reasons,
        kinds=KIND_LABELS,
        form=request.form,
    ), status
