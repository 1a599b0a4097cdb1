"""The notices a public service owes everyone it meets, public and without login:
how personal data is handled (GDPR art. 13) and the accessibility statement (lagen om
tillgänglighet till digital offentlig service, DOS-lagen)."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("notices", __name__)

ACCESSIBILITY_REVIEWED = "2026-12-06"  # when the statement was last checked against the pages


def _settings() -> dict:
    config = current_app.config
    return {
        "controller": config["CONTROLLER"],
        "controller_contact": config["CONTROLLER_CONTACT"],
        "dpo_contact": config["DPO_CONTACT"],
        "accessibility_contact": config["ACCESSIBILITY_CONTACT"] or config["CONTROLLER_CONTACT"],
        "draft_days": config["DRAFT_RETENTION_DAYS"],
        "preview_days": config["PREVIEW_RETENTION_DAYS"],
        "idempotency_days": config["IDEMPOTENCY_RETENTION_DAYS"],
        "link_days": config["LINK_MAX_AGE_DAYS"],
    }


@bp.get("/personuppgifter")
def privacy():
    return render_template("notices/personuppgifter.html", **_settings())


@bp.get("/tillganglighet")
def accessibility():
    return render_template("notices/tillganglighet.html", reviewed=ACCESSIBILITY_REVIEWED, **_settings())
