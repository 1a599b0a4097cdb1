"""Logging in and out, and the `login_required` check every protected view uses."""

import functools
import re
import time
from urllib.parse import urlsplit

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

from .. import limits, users
from ..roles import ROLE_NAMES

bp = Blueprint("auth", __name__)

_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")


@bp.record_once
def _init_throttle(state):
    state.app.extensions["login_throttle"] = limits.LoginThrottle(state.app.extensions["db"])


@bp.before_app_request
def load_current_user():
    """The session's user, if the session is still of the user's current generation:
    logging out or changing the password raises it and so ends every older session."""
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        with current_app.extensions["db"].session() as db:
            user = db.get(users.User, user_id)
        if user is not None and session.get("generation") == user.session_generation:
            g.user = user
        else:
            session.clear()


@bp.app_context_processor
def inject_role_name():
    return {"role_name": ROLE_NAMES.get}


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
    """Only a path on this site, so a crafted login link cannot send the user elsewhere.
    Browsers drop tabs and newlines and read a backslash as a slash, so a path with any
    control character, space or backslash leads to the start page instead."""
    if not target or not target.startswith("/") or _UNSAFE_IN_PATH.search(target):
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return url_for("home.index")
    return target


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
    key = (users.normalize_email(email), request.remote_addr or "")
    if throttle.blocked(*key):
        message = "För många misslyckade inloggningsförsök. Vänta en kvart och försök igen."
        return _login_page(email, {"form": message}, status=429)
    time.sleep(throttle.delay(key[0]))
    with current_app.extensions["db"].session() as db:
        user = users.authenticate(db, email, password)
    if user is None:
        throttle.failed(*key)
        return _login_page(email, {"form": "Fel e-postadress eller lösenord."})

    throttle.succeeded(*key)
    session.clear()  # start a fresh session: nothing from before the login carries over
    session["user_id"] = user.id
    session["generation"] = user.session_generation
    return redirect(_safe_next(request.args.get("next")))


def _login_page(email="", errors=None, status=200):
    return render_template("auth/login.html", email=email, errors=errors or {}), status


@bp.route("/logout", methods=("POST",))
def logout():
    if g.user is not None:
        with current_app.extensions["db"].session() as db:
            users.end_sessions(db, db.get(users.User, g.user.id))
    session.clear()
    flash("Du är utloggad.")
    return redirect(url_for("auth.login"))
