"""The officials' pages for drafts: list, draft, preview and follow up agreements, final PDFs and the log.

Sending and links live in sending.py, uploaded Word templates in uploads.py."""

from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import agreements, audit, custom_templates, final, forms, listing, registry, signing
from ..documents.preview import page_count, page_png
from ..errors import Conflict, Unavailable
from ..formatting import join_sv, local_minute
from ..models import CustomTemplate
from ..roles import DRAFTERS, is_handler
from ..schema import KIND_LABELS, SchemaError, missing_for_sending, validate_agreement
from ..status import awaits_answers, is_draft, is_open_for_accession, may_send
from .accessions import joined_context
from .auth import login_required
from .context import attachment, db, files, final_pdf_download, previews, request_actor
from .security import error_response

bp = Blueprint("drafting", __name__, url_prefix="/avtal")

DETAIL_LABELS = {
    "data_sha256": "Uppgifternas SHA-256",
    "pdf_sha256": "PDF:ens SHA-256",
    "sha256": "SHA-256",
    "version": "Version",
    "number": "Nummer",
    "link_id": "Länk",
    "party": "Part",
    "org_number": "Organisationsnummer",
    "expires_at": "Gäller till",
    "name": "Namn",
    "title": "Titel",
    "place": "Ort",
    "reason": "Motivering",
    "signing_order": "Ordning för länkarna",
}


@bp.app_template_global()
def status_text(agreement, progress=None) -> str:
    """'Skickat – 1 av 2 har bekräftat' while parties are confirming, else the status label."""
    if awaits_answers(agreement) and progress:
        confirmed, total = progress
        return f"Skickat – {confirmed} av {total} har bekräftat"
    return agreements.STATUS_LABELS.get(agreement.status, agreement.status)


@bp.get("")
@login_required(*DRAFTERS)
def index():
    text = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    if status not in agreements.STATUS_LABELS:
        status = ""
    sort = request.args.get("sort", "updated")
    if sort not in listing.SORT_LABELS:
        sort = "updated"
    mine = request.args.get("mina") == "1"
    filters = listing.Filters(text=text, status=status, handled_by=g.user.id if mine else None)
    with db().session() as session:
        try:
            page = listing.find(
                session, filters, sort, listing.page_size(request.args.get("antal")), request.args.get("cursor")
            )
        except listing.ListingError as exc:
            abort(error_response(400, exc.message))
        return render_template(
            "drafting/index.html",
            page=page,
            total=listing.count(session, filters),
            q=text,
            status=status,
            sort=sort,
            mine=mine,
            statuses=agreements.STATUS_LABELS,
            sorts=listing.SORT_LABELS,
        )


# --- the form ---


def _form_page(
    data,
    errors=None,
    agreement=None,
    problem=None,
    status=200,
    template=None,
    unfinished=False,
    voided=(),
    session=None,
):
    """The form; `unfinished` when the errors are what a saved draft lacks before sending;
    `voided` the answers that saving changes would void. `session`: the caller's, when it has
    one open (SQLite allows one writer at a time)."""
    current = agreement.data.get("classification", "") if agreement else ""
    if session is None:
        with db().session() as own:
            processes = registry.choices(own, current)
    else:
        processes = registry.choices(session, current)
    return (
        render_template(
            "drafting/form.html",
            form=forms.form_state(data, errors),
            processes=processes,
            agreement=agreement,
            kind_label=KIND_LABELS[data["kind"]],
            problem=problem,
            template=template,
            unfinished=unfinished,
            contents=_contents(data["kind"], template or (agreement.template if agreement else None)),
            voided=voided,
        ),
        status,
    )


def _contents(kind, template):
    """The form's table of contents, with the headings of the template the draft is filled into."""
    return forms.contents_for(kind, files().get(template.sha256) if template else None)


def _chosen_template(kind):
    """The version named by `?mall=` (not a retired one), else the kind's active version; None: the built-in one."""
    template_id = request.args.get("mall", type=int)
    with db().session() as session:
        if template_id is None:
            return custom_templates.active_template(session, kind)
        template = session.get(CustomTemplate, template_id)
        if template is None or template.kind != kind or template.id in custom_templates.retired_ids(session, kind):
            abort(404)
    return template


def _list_action(data):
    """Re-render the form after a list button pressed without script, or None for 'save'."""
    action = request.form.get("action", "save")
    if action == "save":
        return None
    try:
        return forms.apply_action(data, action)
    except forms.FormError:
        abort(400)


def _saved(agreement):
    """To the overview when the draft is ready to send, else back to the form listing what is missing."""
    if missing_for_sending(agreement.data):
        flash("Utkastet är sparat. Fyll i det som saknas innan du skickar avtalet.")
        return redirect(url_for(".edit", agreement_id=agreement.id))
    flash("Utkastet är sparat.")
    return redirect(url_for(".show", agreement_id=agreement.id))


@bp.route("/ny", methods=("GET", "POST"))
@login_required(*DRAFTERS)
def new():
    kind = request.args.get("typ", "iop")
    if kind not in forms.LAYOUTS:
        abort(404)
    template = _chosen_template(kind)
    if request.method == "GET":
        return _form_page(forms.new_agreement(kind), template=template)
    data = forms.from_form(kind, request.form)
    if (changed := _list_action(data)) is not None:
        return _form_page(changed, template=template)
    data = forms.without_blank_rows(data)
    with db().session() as session:
        try:
            registry.check_classification(session, data)
            agreement = agreements.create_draft(session, files(), data, g.user, request_actor(), template)
        except SchemaError as exc:
            return _form_page(data, exc.errors, status=400, template=template, session=session)
    return _saved(agreement)


@bp.route("/<int:agreement_id>/redigera", methods=("GET", "POST"))
@login_required(*DRAFTERS)
def edit(agreement_id):
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        voided = signing.answers_a_new_text_voids(session, agreement)
        if request.method == "GET":
            missing = missing_for_sending(agreement.data) if may_send(agreement) else {}
            return _form_page(
                agreement.data, missing, agreement=agreement, unfinished=True, voided=voided, session=session
            )
        data = forms.from_form(agreement.kind, request.form)
        if (changed := _list_action(data)) is not None:
            return _form_page(changed, agreement=agreement, voided=voided, session=session)
        data = forms.without_blank_rows(data)
        try:
            registry.check_classification(session, data, current=agreement.data.get("classification", ""))
            agreements.update_draft(session, files(), agreement, data, g.user, request_actor())
        except SchemaError as exc:
            return _form_page(data, exc.errors, agreement=agreement, status=400, voided=voided, session=session)
        except Conflict as exc:
            return _form_page(data, agreement=agreement, problem=exc.message, status=409, session=session)
    return _saved(agreement)


# --- the overview and its handläggare ---


def overview(session, agreement, party_form=None, party_errors=None, status=200):
    version = signing.latest_version(session, agreement.id)
    sent = not is_draft(agreement)
    answers = signing.answers_by_party(session, agreement) if sent else {}
    parties = [
        (
            party,
            answers.get(party.id),
            signing.answerable_link(party, version) if version and sent else None,
        )
        for party in signing.active_parties(session, agreement)
    ]
    held_back = signing.waiting_now(session, agreement, version) if not is_draft(agreement) else {}
    new_index = len(agreement.data["parties"])
    accession = None
    if is_open_for_accession(agreement):
        accession = forms.FormState(
            kind=agreement.kind,
            values=party_form or {f"parties-{new_index}-kind": "idéburen"},
            errors=forms.field_errors(agreement.kind, party_errors or {}),
        )
    return (
        render_template(
            "drafting/show.html",
            agreement=agreement,
            version=version,
            parties=parties,
            progress=listing.progress(session, agreement),
            kind_label=KIND_LABELS[agreement.kind],
            accession=accession,
            new_index=new_index,
            missing=missing_for_sending(agreement.data) if may_send(agreement) else {},
            handlers=agreements.handlers(session, agreement),
            may_change=is_handler(session, g.user, agreement),
            final_problem=final.final_problem(session, agreement),
            my_notify=agreements.notify_choice(session, agreement, g.user),
            notify_labels=agreements.NOTIFY_LABELS,
            registry_default=current_app.config["REGISTRY_EMAIL"],
            reminder_days=current_app.config["REMINDER_DAYS_BEFORE"],
            flags={party.id: signing.confirmed_by_other(agreement, party, answer) for party, answer, _ in parties},
            signing_orders=signing.SIGNING_ORDERS,
            waiting_for={party_id: join_sv(p.name for p in before) for party_id, before in held_back.items()},
            **joined_context(session, agreement),
        ),
        status,
    )


@bp.get("/<int:agreement_id>")
@login_required(*DRAFTERS)
def show(agreement_id):
    with db().session() as session:
        return overview(session, agreements.get_agreement(session, agreement_id))


@bp.post("/<int:agreement_id>/slutlig/forsok-igen")
@login_required(*DRAFTERS)
def retry_final(agreement_id):
    """A handläggare asks for new attempts at a final PDF the job gave up on (after a fix)."""
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        final.retry(session, agreement, request_actor())
    current_app.extensions["jobs"].enqueue_final(agreement_id)
    flash("Den slutliga PDF:en görs nu igen.")
    return redirect(url_for(".show", agreement_id=agreement_id))


@bp.post("/<int:agreement_id>/handlaggare")
@login_required(*DRAFTERS)
def add_handler(agreement_id):
    email = request.form.get("email", "")
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        colleague = agreements.add_handler(session, agreement, email, g.user, request_actor())
    flash(f"{colleague.email} är nu handläggare för avtalet och kan ändra det och skicka länkar.")
    return redirect(url_for(".show", agreement_id=agreement_id))


@bp.post("/<int:agreement_id>/kopiera")
@login_required(*DRAFTERS)
def copy(agreement_id):
    """Any official may start a new draft from an agreement it can read: its text, not its answers."""
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        draft = agreements.copy_agreement(session, files(), agreement, g.user, request_actor())
        draft_id = draft.id
    flash("Ett nytt utkast med samma text är skapat. Ändra det som ska vara annorlunda och skicka det.")
    return redirect(url_for(".edit", agreement_id=draft_id))


@bp.post("/<int:agreement_id>/aviseringar")
@login_required(*DRAFTERS)
def set_notify(agreement_id):
    """The handläggare's own choice of what to hear of the agreement by email."""
    choice = request.form.get("notify", "")
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        agreements.set_notify(session, agreement, g.user, choice, request_actor())
    flash(f"Sparat. E-post om avtalet: {agreements.NOTIFY_LABELS[choice].lower()}.")
    return redirect(url_for(".show", agreement_id=agreement_id))


@bp.post("/<int:agreement_id>/registratur")
@login_required(*DRAFTERS)
def set_registry_email(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        typed = request.form.get("registry_email", "")
        email = agreements.set_registry_email(session, agreement, typed, g.user, request_actor())
    flash(f"Det slutliga avtalet skickas till registraturen {email}." if email else "Ingen registratur för avtalet.")
    return redirect(url_for(".show", agreement_id=agreement_id))


# --- preview ---


def missing_text(errors) -> str:
    return "Avtalet kan inte skickas förrän det här är ifyllt: " + "; ".join(errors.values()) + "."


@bp.get("/<int:agreement_id>/forhandsgranska")
@login_required(*DRAFTERS)
def preview(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        template_sha256 = agreement.template.sha256 if agreement.template else None
    sha, pages, problem = None, 0, None
    try:
        template = files().get(template_sha256) if template_sha256 else None
        model = validate_agreement(agreement.data, for_sending=False)  # a preview may lack the diarienummer
        sha, pdf = previews().render(
            current_app.extensions["office"], agreement_id, model, agreement.data, template_sha256, template
        )
        pages = page_count(pdf)
    except SchemaError as exc:
        problem = missing_text(exc.errors)
    except Unavailable as exc:
        problem = exc.message
    return render_template(
        "drafting/preview.html",
        agreement=agreement,
        sha=sha,
        pages=pages,
        problem=problem,
        can_send=may_send(agreement) and not problem and not missing_for_sending(agreement.data),
    ), 503 if problem else 200


@bp.get("/<int:agreement_id>/version/<int:number>.pdf")
@login_required(*DRAFTERS)
def locked_version(agreement_id, number):
    """The frozen PDF the parties confirm ("Visa låst version"), opened in the browser."""
    with db().session() as session:
        _, data = agreements.download_version(session, files(), agreement_id, number, request_actor())
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="avtal-{agreement_id}-version-{number}.pdf"'},
    )


def _cached_preview(agreement_id, key) -> bytes:
    """A preview made for this agreement; any other file (another agreement's, a record) is not found."""
    pdf = previews().get(agreement_id, key)
    if pdf is None:
        abort(404)
    return pdf


PREVIEW_WIDTHS = {"liten": 300, "stor": 1240}  # a thumbnail, and the page at full size to read


@bp.get("/<int:agreement_id>/forhandsgranska/<sha>/<int:number>.png")
@login_required(*DRAFTERS)
def preview_page(agreement_id, sha, number):
    width = PREVIEW_WIDTHS.get(request.args.get("storlek", "liten"))
    if width is None:
        abort(404)
    png = page_png(_cached_preview(agreement_id, sha), number - 1, width_px=width)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-cache"  # personal data: revalidated, never shared
    return response


@bp.get("/<int:agreement_id>/forhandsgranska/<sha>.pdf")
@login_required(*DRAFTERS)
def preview_pdf(agreement_id, sha):
    """The preview as a PDF, readable at any size, for proofreading."""
    pdf = _cached_preview(agreement_id, sha)
    return attachment(pdf, "application/pdf", f"avtal-{agreement_id}-forhandsgranskning.pdf")


# --- final documents and the log ---


@bp.get("/<int:agreement_id>/slutlig/<int:number>.pdf")
@login_required(*DRAFTERS)
def final_pdf(agreement_id, number):
    return final_pdf_download(agreement_id, number)


def _details(event) -> list[tuple[str, str, bool]]:
    """An event's details as (Swedish label, text, is a hash); times in Swedish time."""
    rows = []
    for key, value in event.details.items():
        if key == "expires_at":
            value = local_minute(datetime.fromisoformat(value))
        elif key == "signing_order":
            value = signing.SIGNING_ORDERS.get(value, value)
        rows.append((DETAIL_LABELS.get(key, key), str(value), key.endswith("sha256")))
    return rows


@bp.get("/<int:agreement_id>/logg")
@login_required(*DRAFTERS)
def log(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        after = request.args.get("efter", type=int)
        page, next_after = audit.events_page(session, agreement.id, after)
        return render_template(
            "drafting/log.html",
            agreement=agreement,
            events=[(event, _details(event)) for event in page],
            next_after=next_after,
            from_start=after is not None,
            labels=audit.EVENT_LABELS,
        )
