"""The start page: sends each user to the section for their role."""

from collections import namedtuple

from flask import Blueprint, g, redirect

from ..roles import ADMINS, DRAFTERS, READERS, ROLES
from .auth import login_required

bp = Blueprint("home", __name__)

Section = namedtuple("Section", "path name")

DRAFTING = Section("/avtal", "Avtal")
ARCHIVE = Section("/arkiv", "Arkiv")
ADMINISTRATION = Section("/admin", "Administration")

# The sections each role may use, shown in the menu; `/` leads to the first one.
SECTIONS = {
    role: [
        section
        for section, allowed in ((DRAFTING, DRAFTERS), (ARCHIVE, READERS), (ADMINISTRATION, ADMINS))
        if role in allowed
    ]
    for role in ROLES
}


@bp.app_context_processor
def inject_sections():
    user = g.get("user")
    return {"sections": SECTIONS.get(user.role, []) if user else []}


@bp.route("/")
@login_required()
def index():
    return redirect(SECTIONS[g.user.role][0].path)
