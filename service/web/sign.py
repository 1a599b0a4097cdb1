"""Pages for a party that opens its one-time signing link. No account: the link is the key.

The agreement is shown as text (HTML made from the same Word document as the frozen
PDF) with pictures of its pages behind "Visa som sidor". Both were made once when the
version was frozen; a view only reads them. The pictures' URLs carry their SHA-256, so
they are cached for good; the pages that carry the token are never cached.
"""

from flask import Blueprint, Response, abort, current_app, render_template, request

from .. import accession_records, mail, receipts, signing
from ..models import Agreement, SigningLink
from ..status import is_completed
from .context import attachment, db, files, link_max_age, link_serializer, renditions, request_actor, sign_url
from .problems import status_for

bp = Blueprint("sign", __name__, url_prefix="/sign")

IMMUTABLE = "public, max-age=31536000, immutable"
ANSWER_FIELDS = ("signer_name", "signer_title", "place", "receipt_email")
DECLINE_FIELDS = ("decline_name", "decline_title", "reason", "decline_receipt_email")
FORWARD_FIELDS = ("forward_name", "forward_email")


@bp.after_request
def private(response):
    """The token is in the URL: keep it out of Referer headers, and its pages out of caches.
    Page pictures set their own caching: their URL names their content."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _problem(session, problem, token=None):
    """The page saying why a link cannot be used, naming the agreement when the link is ours."""
    agreement = session.get(Agreement, problem.link.party.agreement_id) if problem.link is not None else None
    forwarded = signing.forwarded_to(session, problem.link) if problem.kind == "revoked" else None
    page = render_template("sign/problem.html", problem=problem, agreement=agreement, token=token, forwarded=forwarded)
    return page, status_for(problem)


def _page_context(session, link) -> dict:
    """What the party's page shows, read while the session is open."""
    agreement = session.get(Agreement, link.party.agreement_id)
    named = signing.named_representative(agreement, link.party)
    return {"link": link, "party": link.party, "agreement": agreement, "version": link.version, "named": named}


def _page(token, context, errors=None, form=None, status=200):
    version = context["version"]
    rendition = renditions().for_version(version.id, version.pdf_sha256)
    return (
        render_template(
            "sign/page.html",
            token=token,
            rendition=rendition,
            text=renditions().html(rendition.html_sha256),
            errors=errors or {},
            form={**dict.fromkeys(ANSWER_FIELDS + DECLINE_FIELDS + FORWARD_FIELDS, ""), **(form or {})},
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
            return _problem(session, problem, token)
        context = _page_context(session, link)
    return _page(token, context)


def _invalid_form(token, errors, form=None):
    """The page again with the errors; nothing is stored and the link stays usable."""
    with db().session() as session:
        try:
            context = _page_context(session, signing.check_link(session, link_serializer(), token))
        except signing.LinkProblem as problem:
            return _problem(session, problem, token)
    return _page(token, context, errors, form, status=400)


def _done_context(session, answer) -> dict:
    return {
        "answer": answer,
        "party": answer.party,
        "version": answer.version,
        "agreement": session.get(Agreement, answer.party.agreement_id),
    }


@bp.context_processor
def _email_setting():
    """Whether the pages may offer a receipt by email and promise the final PDF's link."""
    return {"can_email": mail.is_configured(current_app)}


@bp.post("/<token>/bekrafta")
def confirm(token):
    form = {k: request.form.get(k, "") for k in ANSWER_FIELDS}
    if not mail.is_configured(current_app):
        form["receipt_email"] = ""  # the field is not offered: nothing could be sent
    accepted = request.form.get("accept") == "ja"
    clean, errors = signing.check_answer(
        form["signer_name"], form["signer_title"], form["place"], accepted, form["receipt_email"]
    )
    if errors:
        return _invalid_form(token, errors, form)
    with db().session() as session:
        try:
            answer, next_links = signing.confirm(
                session,
                link_serializer(),
                token,
                clean["signer_name"],
                clean["signer_title"],
                clean["place"],
                request_actor(),
                receipt_email=clean["receipt_email"],
                max_age_days=link_max_age(),
            )
        except signing.LinkProblem as problem:
            return _problem(session, problem, token)
        done = _done_context(session, answer)
    if accession_records.needs_record(answer):
        current_app.extensions["jobs"].enqueue_record(answer.id)
    elif is_completed(done["agreement"]):
        current_app.extensions["jobs"].enqueue_final(done["agreement"].id)
    mail.send_confirmation_notice(current_app, done["agreement"], done["party"], answer)
    mail.send_next_links(current_app, done["agreement"], done["version"], next_links)
    if answer.receipt_email:
        done["receipt_failed"] = bool(
            mail.send_receipt(current_app, answer.receipt_email, done, files().get(done["version"].pdf_sha256))
        )
    return render_template("sign/done.html", token=token, **done)


def _decline_form() -> dict[str, str]:
    form = {k: request.form.get(k, "") for k in DECLINE_FIELDS}
    if not mail.is_configured(current_app):
        form["decline_receipt_email"] = ""  # the field is not offered: nothing could be sent
    return form


@bp.post("/<token>/avboj")
def decline(token):
    """Declining takes two steps, as a form without script: the filled-in form shows a page
    asking "Är du säker?", and only its "Ja, avböj" (sure=ja) records the decline."""
    form = _decline_form()
    clean, errors = signing.check_decline(
        form["decline_name"], form["decline_title"], form["reason"], form["decline_receipt_email"]
    )
    if errors:
        return _invalid_form(token, errors, form)
    if request.form.get("sure") != "ja":
        with db().session() as session:
            try:
                context = _page_context(session, signing.check_link(session, link_serializer(), token))
            except signing.LinkProblem as problem:
                return _problem(session, problem, token)
        return render_template("sign/decline_confirm.html", token=token, form=form, **context)
    with db().session() as session:
        try:
            answer = signing.decline(
                session,
                link_serializer(),
                token,
                clean["decline_name"],
                clean["decline_title"],
                clean["reason"],
                request_actor(),
                receipt_email=clean["receipt_email"],
            )
        except signing.LinkProblem as problem:
            return _problem(session, problem, token)
        done = _done_context(session, answer)
    person = f"{answer.signer_name}, {answer.signer_title}"
    mail.send_decline_notice(current_app, done["agreement"], done["party"], answer.reason, person, answer.created_at)
    if answer.receipt_email:
        done["receipt_failed"] = bool(mail.send_decline_receipt(current_app, answer.receipt_email, done))
    return render_template("sign/done.html", token=token, **done)


@bp.post("/<token>/skicka-vidare")
def forward(token):
    """The party passes its link on to the person who may sign: a new link to that address,
    this one revoked, the officials told. Nothing changes when the form or the link is wrong."""
    if not mail.is_configured(current_app):
        abort(404)  # the section is not offered: no link could be sent
    form = {k: request.form.get(k, "") for k in FORWARD_FIELDS}
    with db().session() as session:
        try:
            link = signing.check_link(session, link_serializer(), token)
        except signing.LinkProblem as problem:
            return _problem(session, problem, token)
        clean, errors = signing.check_forward(form["forward_name"], form["forward_email"], link)
    if errors:
        return _invalid_form(token, errors, form)
    with db().session() as session:
        try:
            old, issued = signing.forward(
                session,
                link_serializer(),
                token,
                clean["forward_name"],
                clean["forward_email"],
                request_actor(),
                link_max_age(),
            )
        except signing.LinkProblem as problem:
            return _problem(session, problem, token)
        context = _page_context(session, old)
        forwarded_from = signing.link_address(old)
    agreement, party = context["agreement"], context["party"]
    failed = bool(mail.send_forwarded_link(current_app, agreement, issued, sign_url(issued.token), forwarded_from))
    if not failed:
        with db().session() as session:
            signing.record_delivery(session, {issued.link_id: "emailed"})
    mail.send_forward_notice(current_app, agreement, party, forwarded_from, issued, failed)
    return render_template("sign/forwarded.html", issued=issued, failed=failed, **context)


@bp.get("/<token>/kvitto")
def receipt(token):
    """The receipt of an answer, for as long as the party keeps its link."""
    with db().session() as session:
        try:
            done = _done_context(session, signing.given_answer(session, link_serializer(), token))
        except signing.LinkProblem as problem:
            return _problem(session, problem)
    return render_template("sign/done.html", token=token, **done)


def _pdf_name(version) -> str:
    return f"avtal-version-{version.number}.pdf"


@bp.get("/<token>/kvitto/avtal.pdf")
def receipt_pdf(token):
    """Exactly the PDF the party answered, as frozen."""
    with db().session() as session:
        try:
            answer = signing.given_answer(session, link_serializer(), token)
        except signing.LinkProblem:
            abort(404)
        version = answer.version
        signing.note_download(session, session.get(SigningLink, answer.link_id), request_actor())
    return attachment(files().get(version.pdf_sha256), "application/pdf", _pdf_name(version))


@bp.get("/<token>/avtal.pdf")
def pdf(token):
    with db().session() as session:
        try:
            link = signing.check_link(session, link_serializer(), token)
        except signing.LinkProblem:
            abort(404)
        version = link.version
        signing.note_download(session, link, request_actor())
    return attachment(files().get(version.pdf_sha256), "application/pdf", _pdf_name(version))


@bp.get("/<token>/sida/<int:number>/<sha256>.png")
def page_image(token, number, sha256):
    """One page picture of the version the link was issued for.

    The token's signature is checked, and the picture must belong to the frozen PDF the
    token names; the database is not asked again (it is asked only until the process
    knows that version). Whether the link may still be answered is not checked: the
    URL holds the picture's SHA-256, which only the page shown through this link
    revealed, so whoever asks already saw it. That keeps a reader scrolling through the
    pages off the database, and a browser that has a picture is answered 304.
    """
    facts = renditions().for_token(link_serializer(), token)
    if not facts.image(number, sha256):
        abort(404)
    if request.if_none_match.contains(sha256):
        return _cacheable(Response(status=304), sha256)
    return _cacheable(Response(files().get(sha256), mimetype="image/png"), sha256)


def _cacheable(response, sha256):
    response.set_etag(sha256)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


@bp.get("/slutligt/<token>")
def final_pdf(token):
    """A confirmed party's own link to the final PDF, sent by email when it was made."""
    with db().session() as session:
        try:
            serializer = receipts.final_serializer(current_app.config["SECRET_KEY"])
            document, _ = receipts.open_final(session, serializer, token, link_max_age(), request_actor())
        except receipts.DownloadProblem as problem:
            return render_template("sign/download_problem.html", problem=problem), status_for(problem)
        number, sha256, agreement_id = document.number, document.sha256, document.agreement_id
    return attachment(files().get(sha256), "application/pdf", f"avtal-{agreement_id}-slutligt-{number}.pdf")
