"""Pages for a party that opens its one-time signing link. No account: the link is the key."""

from flask import Blueprint, Response, abort, current_app, render_template, request

from .. import signing
from ..documents.preview import page_count, page_png
from ..models import Agreement
from .context import db, files, link_serializer, request_actor

bp = Blueprint("sign", __name__, url_prefix="/sign")

PROBLEM_STATUS = {"invalid": 404, "expired": 410, "used": 409, "revoked": 410, "outdated": 410}


@bp.after_request
def private(response):
    """The token is in the URL: keep it out of Referer headers and caches."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(problem):
    return render_template("sign/problem.html", problem=problem), PROBLEM_STATUS[problem.kind]


def _page(link, session, errors=None, form=None, status=200):
    version = link.version
    party_data = version.data["parties"][link.party.position] if link.party.position < len(version.data["parties"]) else {}
    representative = party_data.get("representative", {})
    form = form or {
        "signer_name": representative.get("name", ""),
        "signer_title": representative.get("title", ""),
        "place": "",
    }
    agreement = session.get(Agreement, link.party.agreement_id)
    pages = page_count(files().get(version.pdf_sha256))
    return (
        render_template(
            "sign/page.html", link=link, agreement=agreement, version=version, pages=pages,
            token=request.view_args["token"], errors=errors or {}, form=form,
        ),
        status,
    )


@bp.get("/<token>")
def show(token):
    with db().session() as session:
        try:
            link = signing.open_link(session, link_serializer(), token, request_actor())
        except signing.LinkProblem as problem:
            return _problem(problem)
        return _page(link, session)


@bp.post("/<token>/bekrafta")
def confirm(token):
    form = {k: request.form.get(k, "") for k in ("signer_name", "signer_title", "place")}
    accepted = request.form.get("accept") == "ja"
    errors = signing.check_answer(form["signer_name"], form["signer_title"], form["place"], accepted)
    with db().session() as session:
        try:
            link = signing.check_link(session, link_serializer(), token)
            if errors:
                return _page(link, session, errors, form, status=400)
            answer = signing.confirm(
                session, link_serializer(), token,
                form["signer_name"].strip(), form["signer_title"].strip(), form["place"].strip(), request_actor(),
            )
            agreement = session.get(Agreement, link.party.agreement_id)
            completed = agreement.status == "completed"
        except signing.LinkProblem as problem:
            return _problem(problem)
    if completed:
        current_app.extensions["jobs"].enqueue_final(agreement.id)
    return render_template("sign/done.html", answer=answer, agreement=agreement, link=link)


@bp.post("/<token>/avboj")
def decline(token):
    reason = request.form.get("reason", "")
    errors = signing.check_reason(reason)
    with db().session() as session:
        try:
            link = signing.check_link(session, link_serializer(), token)
            if errors:
                return _page(link, session, errors, status=400)
            answer = signing.decline(session, link_serializer(), token, reason.strip(), request_actor())
            agreement = session.get(Agreement, link.party.agreement_id)
        except signing.LinkProblem as problem:
            return _problem(problem)
    return render_template("sign/done.html", answer=answer, agreement=agreement, link=link)


def _frozen_pdf(token) -> bytes:
    with db().session() as session:
        try:
            link = signing.check_link(session, link_serializer(), token)
        except signing.LinkProblem:
            abort(404)
        return files().get(link.version.pdf_sha256)


@bp.get("/<token>/avtal.pdf")
def pdf(token):
    return Response(
        _frozen_pdf(token), mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="avtal.pdf"'},
    )


@bp.get("/<token>/sida/<int:number>.png")
def page_image(token, number):
    try:
        return Response(page_png(_frozen_pdf(token), number - 1), mimetype="image/png")
    except IndexError:
        abort(404)
