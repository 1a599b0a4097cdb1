"""The start page: sends each user to the section for their role."""

from collections import namedtuple

from flask import Blueprint, current_app, g, redirect, render_template
from werkzeug.exceptions import HTTPException, NotFound

from .auth import login_required

bp = Blueprint("home", __name__)

Section = namedtuple("Section", "path name description")

# The sections each role may use, shown in the menu; `/` leads to the first one.
SECTIONS = {
    "official": [Section("/avtal", "Avtal", "Skriv avtal, skicka dem för underskrift och följ upp svaren.")],
    "archivist": [Section("/arkiv", "Arkiv", "Sök färdiga avtal och hämta slutlig PDF, logg och arkivpaket.")],
    "admin": [],
}


@bp.app_context_processor
def inject_sections():
    user = g.get("user")
    return {"sections": SECTIONS.get(user.role, []) if user else []}


@bp.route("/")
@login_required()
def index():
    sections = SECTIONS.get(g.user.role, [])
    if sections and _exists(sections[0].path):
        return redirect(sections[0].path)
    return render_template("home/index.html")


def _exists(path):
    """Whether a route serves `path` yet: the sections are built by other blueprints."""
    try:
        current_app.url_map.bind("").match(path)
    except NotFound:
        return False
    except HTTPException:  # a redirect to `path/`, or a route for other methods
        return True
    return True
