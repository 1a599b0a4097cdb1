"""Logging in and out, and the `login_required` check every protected view uses."""

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .. import users

bp = Blueprint("auth", __name__)


@bp.record_once
def _init_throttle(state):
    state.app.extensions["login_throttle"] = users.LoginThrottle()


@bp.before_app_request
def load_current_user():
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        with current_app.extensions["db"].session() as db:
            g.user = db.get(users.User, user_id)


@bp.app_context_processor
def inject_role_name():
    return {"role_name": users.ROLE_NAMES.get}


def login_required(*roles):
    """Let only logged-in users through, and only those with one of `roles` if any are given."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(**kwargs):
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if roles and g.user.role not in roles:
                abort(403)
            return view(**kwargs)

        return wrapped

    return decorator


def _safe_next(target):
    """Only a path on this site, so a crafted login link cannot send the user elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("home.index")


@bp.route("/login", methods=("GET", "POST"))
def login():
    if g.user is not None:
        return redirect(url_for("home.index"))
    if request.method == "GET":
        return _login_page()

    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    errors = {}
    if not email:
        errors["email"] = "Ange din e-postadress."
    if not password:
        errors["password"] = "Ange ditt lösenord."
    if errors:
        return _login_page(email, errors)

    throttle = current_app.extensions["login_throttle"]
    ip = request.remote_addr or ""
    if throttle.blocked(email, ip):
        message = "För många misslyckade inloggningsförsök. Vänta en kvart och försök igen."
        return _login_page(email, {"form": message}, status=429)
    with current_app.extensions["db"].session() as db:
        user = users.authenticate(db, email, password)
    if user is None:
        throttle.record_failure(email, ip)
        return _login_page(email, {"form": "Fel e-postadress eller lösenord."})

    throttle.reset(email, ip)
    session.clear()  # start a fresh session: nothing from before the login carries over
    session["user_id"] = user.id
    return redirect(_safe_next(request.args.get("next")))


def _login_page(email="", errors=None, status=200):
    return render_template("auth/login.html", email=email, errors=errors or {}), status


@bp.route("/logout", methods=("POST",))
def logout():
    session.clear()
    flash("Du är utloggad.")
    return redirect(url_for("auth.login"))
