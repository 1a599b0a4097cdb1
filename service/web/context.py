"""Small helpers the views share."""

from flask import Response, current_app, g, request

from .. import agreements, registry, signing
from ..audit import Actor
from ..mail import sign_link


def request_actor(name=None) -> Actor:
    """The audit actor for this request: the logged-in user unless `name` is given."""
    if name is None:
        name = f"user:{g.user.email}" if g.get("user") else "anonymous"
    return Actor(name, ip=request.remote_addr or "", user_agent=request.user_agent.string or "")


def db():
    return current_app.extensions["db"]


def files():
    return current_app.extensions["files"]


def previews():
    return current_app.extensions["previews"]


def renditions():
    return current_app.extensions["renditions"]


def link_serializer():
    return signing.link_serializer(current_app.config["SECRET_KEY"])


def link_max_age() -> int:
    """How many days a new signing link is valid."""
    return current_app.config["LINK_MAX_AGE_DAYS"]


def send_for_signature(agreement_id, change_note="", terms=agreements.SendingTerms()):
    """Freeze and send the agreement with the app's database, files, LibreOffice, seal and link settings."""
    return agreements.send_for_signature(
        db(),
        files(),
        current_app.extensions["office"],
        current_app.extensions["seal"],
        link_serializer(),
        agreement_id,
        link_max_age(),
        g.user,
        request_actor(),
        change_note,
        terms,
    )


def final_pdf_download(agreement_id, number=None) -> Response:
    """A final PDF (the newest when `number` is None) as a download, audited as this request's."""
    with db().session() as session:
        document, data = agreements.download_final(session, files(), agreement_id, number, request_actor())
        stem = registry.file_stem(agreements.get_agreement(session, agreement_id))
    return attachment(data, "application/pdf", f"{stem}-slutlig-{document.number}.pdf")


def sign_url(token) -> str:
    """The party's link, on PUBLIC_URL (never on the request's Host header)."""
    return sign_link(current_app, token)


def attachment(data: bytes, content_type: str, filename: str) -> Response:
    """A file to download (our own ASCII file names only)."""
    return Response(
        data, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
