"""The public verification page /verifiera: anyone may check a PDF, no login.

The upload is read, checked and forgotten: never stored, never logged. Details of a
document are shown only when the service holds exactly those bytes.
"""

from flask import Blueprint, abort, current_app, render_template, request

from .. import limits
from ..records import verification
from .context import attachment, db

bp = Blueprint("verify", __name__, url_prefix="/verifiera")

MAX_UPLOAD = 20 * 1024 * 1024


@bp.record_once
def _init_limit(state):
    state.app.extensions["verify_limit"] = limits.verification_limit(state.app.extensions["db"])


@bp.before_app_request
def _before_upload():
    """Runs before the CSRF check reads the form: counts the attempt before the upload
    is read, and lets this one form be larger than the service's usual limit."""
    if request.endpoint == "verify.check":
        if not current_app.extensions["verify_limit"].allow(request.remote_addr or ""):
            abort(429)
        request.max_content_length = MAX_UPLOAD


def _page(result=None, error=None, status=200):
    sealer = current_app.extensions["seal"]
    return render_template(
        "verify/index.html",
        result=result,
        error=error,
        sealer=sealer,
        notice=verification.SELF_SIGNED_NOTICE,
        max_mb=MAX_UPLOAD // (1024 * 1024),
    ), status


@bp.get("")
def index():
    return _page()


@bp.post("")
def check():
    upload = request.files.get("pdf")
    if upload is None or not upload.filename:
        return _page(error="Välj en PDF-fil att kontrollera.", status=400)
    data = upload.read()
    with db().session() as session:
        result = verification.verify_pdf(session, current_app.extensions["seal"], data)
    return _page(result=result)


@bp.get("/sigillcertifikat.cer")
def certificate():
    """The seal certificate (DER), for pyHanko's --trust or Adobe Reader's trusted certificates."""
    return attachment(
        current_app.extensions["seal"].certificate.dump(), "application/pkix-cert", "avtalstjansten-sigill.cer"
    )
