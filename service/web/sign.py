"""Pages for a party that opens its one-time signing link. No account: the link is the key."""

import functools

from flask import Blueprint, Response, abort, current_app, render_template, request

from .. import mail, signing
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


def _page_context(session, link) -> dict:
    """What the party's page shows, read while the session is open."""
    agreement = session.get(Agreement, link.party.agreement_id)
    parties = agreement.data["parties"]
    representative = parties[link.party.position]["representative"] if link.party.position < len(parties) else {}
    return {
        "link": link,
        "agreement": agreement,
        "version": link.version,
        "defaults": {
            "signer_name": representative.get("name", ""),
            "signer_title": representative.get("title", ""),
            "place": "",
        },
    }


@functools.lru_cache(maxsize=512)
def _page_count(pdf_sha256) -> int:
    """Stored files never change, so neither do their page counts."""
    return page_count(files().get(pdf_sha256))


def _page(context, errors=None, form=None, status=200):
    pages = _page_count(context["version"].pdf_sha256)
    return (
        render_template(
            "sign/page.html",
            pages=pages,
            token=request.view_args["token"],
            errors=errors or {},
            form=form or context["defaults"],
            **context,
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
        context = _page_context(session, link)
    return _page(context)


def _invalid_form(token, errors, form=None):
    """The page again with the errors; nothing is stored and the link stays usable."""
    with db().session() as session:
        try:
            context = _page_context(session, signing.check_link(session, link_serializer(), token))
        except signing.LinkProblem as problem:
            return _problem(problem)
    return _page(context, errors, form, status=400)


def _done_context(session, answer) -> dict:
    return {
        "answer": answer,
        "party": answer.party,
        "version": answer.version,
        "agreement": session.get(Agreement, answer.party.agreement_id),
    }


@bp.post("/<token>/bekrafta")
def confirm(token):
    form = {k: request.form.get(k, "") for k in ("signer_name", "signer_title", "place")}
    accepted = request.form.get("accept") == "ja"
    errors = signing.check_answer(form["signer_name"], form["signer_title"], form["place"], accepted)
    if errors:
        return _invalid_form(token, errors, form)
    with db().session() as session:
        try:
            answer = signing.confirm(
                session,
                link_serializer(),
                token,
                form["signer_name"].strip(),
                form["signer_title"].strip(),
                form["place"].strip(),
                request_actor(),
            )
        except signing.LinkProblem as problem:
            return _problem(problem)
        done = _done_context(session, answer)
    if done["agreement"].status == "completed":
        current_app.extensions["jobs"].enqueue_final(done["agreement"].id)
    return render_template("sign/done.html", **done)


@bp.post("/<token>/avboj")
def decline(token):
    reason = request.form.get("reason", "")
    errors = signing.check_reason(reason)
    if errors:
        return _invalid_form(token, errors)
    with db().session() as session:
        try:
            answer = signing.decline(session, link_serializer(), token, reason.strip(), request_actor())
        except signing.LinkProblem as problem:
            return _problem(problem)
        done = _done_context(session, answer)
    mail.send_decline_notice(current_app, done["agreement"], done["party"], answer.reason)
    return render_template("sign/done.html", **done)


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
        _frozen_pdf(token),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="avtal.pdf"'},
    )


@bp.get("/<token>/sida/<int:number>.png")
def page_image(token, number):
    try:
        return Response(page_png(_frozen_pdf(token), number - 1), mimetype="image/png")
    except IndexError:
        abort(404)
