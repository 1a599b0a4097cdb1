"""Administration: user accounts, API tokens and webhooks, so nothing needs the command line
after set-up. Only admins get in. Passwords, tokens and webhook secrets are shown once, in
the answer to the form that made them (never in a redirect or a flash message)."""

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import audit, registry, users, webhooks
from ..models import User
from ..roles import ADMINS, ROLE_NAMES
from ..schema import SchemaError
from .auth import login_required
from .context import db, request_actor

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _shown_once(title, label, value, back):
    """A page showing a new secret value once."""
    return render_template("admin/shown_once.html", title=title, label=label, value=value, back=back)


# --- users and API tokens ---


@bp.get("")
@login_required(*ADMINS)
def index(errors=None, form=None, status=200):
    with db().session() as session:
        people = users.all_users(session)
        tokens = users.tokens_of(session, [u.id for u in people])
    return render_template(
        "admin/users.html",
        people=people,
        tokens=tokens,
        roles=ROLE_NAMES,
        errors=errors or {},
        form=form or {"email": "", "role": "official"},
    ), status


@bp.post("/anvandare")
@login_required(*ADMINS)
def create_user():
    form = {"email": request.form.get("email", "").strip(), "role": request.form.get("role", "")}
    password = users.generate_password()
    try:
        with db().session() as session:
            user = users.create_user(session, form["email"], form["role"], password)
            audit.record(session, "user_created", request_actor(), email=user.email, role=user.role)
    except users.UserError as exc:
        return index(errors={"email": exc.message}, form=form, status=400)
    return _shown_once(
        f"{user.email} kan nu logga in",
        f"Lösenord för {user.email} ({ROLE_NAMES[user.role]})",
        password,
        url_for("admin.index"),
    )


def _user(session, user_id) -> User:
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/anvandare/<int:user_id>/losenord")
@login_required(*ADMINS)
def new_password(user_id):
    password = users.generate_password()
    with db().session() as session:
        user = _user(session, user_id)
        users.set_password(session, user, password)
        audit.record(session, "password_reset", request_actor(), email=user.email)
    return _shown_once(
        "Nytt lösenord",
        f"Nytt lösenord för {user.email} (inloggningar som pågår avslutas)",
        password,
        url_for("admin.index"),
    )


@bp.post("/anvandare/<int:user_id>/nycklar")
@login_required(*ADMINS)
def create_token(user_id):
    name = request.form.get("name", "").strip()
    with db().session() as session:
        user = _user(session, user_id)
        token = users.issue_api_token(session, user, name)
        audit.record(session, "api_token_created", request_actor(), email=user.email, name=name)
    label = f"API-nyckel för {user.email}" + (f" ({name})" if name else "")
    return _shown_once("Ny API-nyckel", label, token, url_for("admin.index"))


@bp.post("/nycklar/<int:token_id>/aterkalla")
@login_required(*ADMINS)
def revoke_token(token_id):
    with db().session() as session:
        token = users.revoke_api_token(session, token_id)
        audit.record(session, "api_token_revoked", request_actor(), email=token.user.email, name=token.name)
        email = token.user.email
    flash(f"API-nyckeln för {email} är återkallad och fungerar inte längre.")
    return redirect(url_for("admin.index"))


# --- webhooks ---


@bp.get("/webhooks")
@login_required(*ADMINS)
def webhook_list(errors=None, form=None, status=200):
    with db().session() as session:
        endpoints = webhooks.endpoints(session)
        summary = webhooks.summary(session)
    return render_template(
        "admin/webhooks.html",
        endpoints=endpoints,
        summary=summary,
        type_labels=webhooks.TYPE_LABELS,
        errors=errors or {},
        form=form or {"url": "", "events": list(webhooks.TYPE_LABELS)},
    ), status


@bp.post("/webhooks")
@login_required(*ADMINS)
def add_webhook():
    form = {"url": request.form.get("url", "").strip(), "events": request.form.getlist("events")}
    errors = webhooks.check_endpoint(form["url"], form["events"])
    if errors:
        return webhook_list(errors=errors, form=form, status=400)
    with db().session() as session:
        endpoint, secret = webhooks.add_endpoint(session, form["url"], form["events"], request_actor())
    back = url_for("admin.webhook", endpoint_id=endpoint.id)
    return _shown_once("Webhooken är registrerad", f"Hemlighet för {endpoint.url}", secret, back)


@bp.get("/webhooks/<int:endpoint_id>")
@login_required(*ADMINS)
def webhook(endpoint_id):
    before = request.args.get("fore", type=int)
    with db().session() as session:
        endpoint = webhooks.get_endpoint(session, endpoint_id)
        log = webhooks.deliveries(session, endpoint_id, before=before)
        attempts = webhooks.attempts_of(session, [d.id for d in log])
    return render_template(
        "admin/webhook.html",
        endpoint=endpoint,
        deliveries=log,
        attempts=attempts,
        type_labels=webhooks.TYPE_LABELS,
        older=log[-1].id if len(log) == webhooks.LOG_PAGE else None,
    )


@bp.post("/webhooks/<int:endpoint_id>/rotera")
@login_required(*ADMINS)
def rotate_webhook(endpoint_id):
    hours = current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"]
    with db().session() as session:
        endpoint = webhooks.get_endpoint(session, endpoint_id)
        secret = webhooks.rotate_secret(session, endpoint, timedelta(hours=hours), request_actor())
    label = f"Ny hemlighet för {endpoint.url}. Den gamla gäller {hours:g} timmar till; leveranserna signeras med båda."
    return _shown_once("Ny hemlighet", label, secret, url_for("admin.webhook", endpoint_id=endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>/inaktivera")
@login_required(*ADMINS)
def disable_webhook(endpoint_id):
    with db().session() as session:
        webhooks.disable_endpoint(session, webhooks.get_endpoint(session, endpoint_id), request_actor())
    flash("Webhooken är inaktiverad. Inget mer skickas dit; loggen finns kvar.")
    return redirect(url_for("admin.webhook", endpoint_id=endpoint_id))


@bp.post("/leveranser/<int:delivery_id>/skicka-igen")
@login_required(*ADMINS)
def redeliver(delivery_id):
    with db().session() as session:
        delivery = webhooks.get_delivery(session, delivery_id)
        endpoint = webhooks.get_endpoint(session, delivery.endpoint_id)
        if endpoint.disabled_at is not None:
            flash("Webhooken är inaktiverad; inget skickas.", "error")
            return redirect(url_for("admin.webhook", endpoint_id=endpoint.id))
        webhooks.redeliver(session, delivery, request_actor())
    current_app.extensions["jobs"].deliver_task(delivery_id)
    flash("Leveransen skickas igen strax.")
    return redirect(url_for("admin.webhook", endpoint_id=delivery.endpoint_id))


# --- the registry's classification list ---


@bp.get("/processer")
@login_required(*ADMINS)
def processes(errors=None, form=None, status=200):
    with db().session() as session:
        rows = registry.all_processes(session)
    return render_template(
        "admin/processes.html", processes=rows, errors=errors or {}, form=form or {"code": "", "label": ""}
    ), status


@bp.post("/processer")
@login_required(*ADMINS)
def add_process():
    form = {name: request.form.get(name, "") for name in ("code", "label")}
    try:
        with db().session() as session:
            row = registry.add_process(session, form["code"], form["label"])
            audit.record(session, "process_added", request_actor(), code=row.code, label=row.label)
    except SchemaError as exc:
        return processes(errors=exc.errors, form=form, status=400)
    flash(f"Processen {row.code} är tillagd.")
    return redirect(url_for("admin.processes"))


@bp.post("/processer/<int:process_id>/<any(avveckla, ateruppta):action>")
@login_required(*ADMINS)
def retire_process(process_id, action):
    with db().session() as session:
        row = registry.set_retired(session, process_id, action == "avveckla")
        audit.record(session, f"process_{'retired' if row.retired_at else 'restored'}", request_actor(), code=row.code)
    flash(f"Processen {row.code} är {'avvecklad' if action == 'avveckla' else 'i bruk igen'}.")
    return redirect(url_for("admin.processes"))
