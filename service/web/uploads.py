"""The region's Word templates: download any version with its field reference, upload an
edited one as a new version, compare and preview versions, and choose the one new drafts use.

Officials and admins (DRAFTERS) may do all of it: the wording is the officials' (they draft
and answer for the agreements), an admin manages accounts, not text. Every upload, refusal,
activation and retirement is in the audit trail with who did it.
"""

import hashlib

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import custom_templates, text
from ..errors import AvtalError, InvalidInput
from ..formatting import join_sv
from ..models import CustomTemplate, User
from ..roles import DRAFTERS
from ..schema import KIND_LABELS
from .auth import login_required
from .context import db, files, previews, request_actor
from .security import domain_error_response

bp = Blueprint("uploads", __name__, url_prefix="/avtal")
bp.register_error_handler(AvtalError, domain_error_response)

BUILTIN = "inbyggd"  # the built-in version's name in URLs
TEMPLATE_PREVIEWS = 0  # the preview cache's key for template versions (agreements start at 1)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@bp.route("/mallar", methods=("GET", "POST"))
@login_required(*DRAFTERS)
def templates():
    errors, reasons, status = {}, [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        kind = request.form.get("kind", "")
        typed, errors = text.field_errors(
            {
                "name": ("Mallens namn", request.form.get("name", ""), text.TEMPLATE_NAME_MAX, False, True),
                "note": ("Vad versionen ändrar", request.form.get("note", ""), 300, False, True),
            }
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
                    template = custom_templates.store_template(
                        session, files(), data, name, kind, g.user, typed["note"], request_actor()
                    )
            except custom_templates.TemplateRejected as exc:
                reasons = exc.reasons
                with db().session() as session:
                    custom_templates.record_refusal(session, data, kind, reasons, request_actor())
            else:
                flash(
                    f"Mallen {template.name} är sparad som en ny version, ännu inte aktiv. "
                    f"Den använder: {join_sv(template.variables)}. Förhandsgranska den innan du gör den aktiv."
                )
                return redirect(url_for(".templates"))
        status = 400
    return render_template(
        "drafting/templates.html",
        kinds=KIND_LABELS,
        versions=_versions(),
        errors=errors,
        reasons=reasons,
        form=request.form,
    ), status


def _versions() -> dict[str, dict]:
    """Per kind: its versions newest first (the built-in one last), the active one's id, the retired ids."""
    with db().session() as session:
        rows = session.scalars(select(CustomTemplate).order_by(CustomTemplate.id.desc())).all()
        users = {u.id: u.email for u in session.scalars(select(User))}
        listing = {}
        for kind in KIND_LABELS:
            active = custom_templates.active_template(session, kind)
            listing[kind] = {
                "rows": [r for r in rows if r.kind == kind],
                "active": active.id if active else BUILTIN,
                "retired": custom_templates.retired_ids(session, kind),
            }
    return {kind: {**entry, "users": users} for kind, entry in listing.items()}


def _version(session, kind, ref) -> CustomTemplate | None:
    """The version `ref` names: None for the built-in one; 404 for anything else unknown."""
    if kind not in KIND_LABELS:
        abort(404)
    if ref == BUILTIN:
        return None
    template = session.get(CustomTemplate, int(ref)) if ref.isdigit() else None
    if template is None or template.kind != kind:
        abort(404)
    return template


def _bytes(kind, ref) -> tuple[bytes, str]:
    with db().session() as session:
        template = _version(session, kind, ref)
        name = template.name if template else f"{KIND_LABELS[kind]} (inbyggd)"
        return custom_templates.version_bytes(files(), kind, template), name


@bp.route("/mallar/<kind>/<ref>.docx")
@login_required(*DRAFTERS)
def download(kind, ref):
    data, _ = _bytes(kind, ref)
    filename = f"{kind}-{ref}.docx"
    return Response(data, mimetype=DOCX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/mallar/<kind>/falt")
@login_required(*DRAFTERS)
def reference(kind):
    if kind not in KIND_LABELS:
        abort(404)
    return render_template(
        "drafting/template_fields.html",
        kind=kind,
        kind_label=KIND_LABELS[kind],
        rows=custom_templates.field_reference(kind),
        loops=custom_templates.REQUIRED_LOOPS,
    )


@bp.route("/mallar/<kind>/<ref>/forhandsgranska")
@login_required(*DRAFTERS)
def preview(kind, ref):
    """The version filled with the example agreement, as a PDF, before anyone makes it active."""
    data, _ = _bytes(kind, ref)
    example = custom_templates.example_agreement(kind)
    _, pdf = previews().render(  # cached and limited like a draft's preview; no agreement has id 0
        current_app.extensions["office"],
        TEMPLATE_PREVIEWS,
        example,
        example.model_dump(mode="json"),
        hashlib.sha256(data).hexdigest(),
        data,
    )
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": "inline"})


@bp.route("/mallar/<kind>/jamfor")
@login_required(*DRAFTERS)
def compare(kind):
    before_ref, after_ref = request.args.get("fran", BUILTIN), request.args.get("till", BUILTIN)
    before, before_name = _bytes(kind, before_ref)
    after, after_name = _bytes(kind, after_ref)
    return render_template(
        "drafting/template_diff.html",
        kind_label=KIND_LABELS[kind],
        before_name=before_name,
        after_name=after_name,
        lines=custom_templates.text_diff(before, after),
    )


@bp.post("/mallar/<kind>/<ref>/aktivera")
@login_required(*DRAFTERS)
def activate(kind, ref):
    with db().session() as session:
        template = _version(session, kind, ref)
        custom_templates.activate(session, kind, template, g.user, request_actor())
        name = template.name if template else "den inbyggda mallen"
    flash(f"Nya utkast av typen {KIND_LABELS[kind]} använder nu {name}. Avtal som redan finns behåller sin mall.")
    return redirect(url_for(".templates"))


@bp.post("/mallar/<kind>/<ref>/avveckla")
@login_required(*DRAFTERS)
def retire(kind, ref):
    try:
        with db().session() as session:
            template = _version(session, kind, ref)
            if template is None:
                raise InvalidInput("Den inbyggda mallen kan inte avvecklas, men en annan version kan göras aktiv.")
            custom_templates.retire(session, template, g.user, request_actor())
            name = template.name
    except InvalidInput as exc:
        flash(exc.message)
    else:
        flash(f"{name} är avvecklad: den erbjuds inte för nya utkast. Avtal som använder den behåller den.")
    return redirect(url_for(".templates"))
