"""JSON API for integrations, authenticated by a per-user bearer token.

Errors are problem documents (RFC 9457, `application/problem+json`, see problems.py),
made by the application's one handler of the AvtalError family.
"""

import functools
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from .. import (
    accession,
    accession_records,
    agreements,
    final,
    listing,
    mail,
    party_register,
    registry,
    signing,
    status,
    users,
)
from ..errors import (
    BadRequest,
    Conflict,
    FinalPending,
    InvalidInput,
    NotAcceptable,
    NotAllowed,
    NotFound,
    TooLarge,
    Unauthenticated,
)
from ..formatting import local_time
from ..mail import absolute_url
from ..models import utcnow
from ..roles import DRAFTERS, READERS
from ..schema import missing_for_sending
from . import api_schema, idempotency, problems
from .context import (
    attachment,
    db,
    files,
    final_pdf_download,
    link_max_age,
    link_serializer,
    request_actor,
    send_for_signature,
    sign_url,
)
from .openapi import described, document, not_described

bp = Blueprint("api", __name__, url_prefix="/api")


def token_required(*roles):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(**kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            user = None
            if scheme.lower() == "bearer" and token.strip():
                with db().session() as session:
                    user = users.user_for_token(session, token.strip())
            if user is None:
                raise Unauthenticated()
            if user.role not in roles:
                raise NotAllowed("Din roll får inte göra detta.")
            g.user = user
            if request.method == "POST" and "Idempotency-Key" in request.headers:
                return _once(view, kwargs, request.headers["Idempotency-Key"])
            return view(**kwargs)

        return wrapped

    return decorator


def _once(view, kwargs, key):
    """Run a POST at most once per Idempotency-Key; a retry gets the stored answer."""
    secret = current_app.config["SECRET_KEY"]
    request_fingerprint = idempotency.fingerprint(request.method, request.path, request.get_data(cache=True))
    stored = idempotency.begin(db(), g.user.id, key, request_fingerprint, secret)
    if stored is not None:
        mimetype = problems.MEDIA_TYPE if stored.status >= 400 else "application/json"
        return Response(stored.body, status=stored.status, mimetype=mimetype, headers={"Idempotent-Replayed": "true"})
    try:
        try:
            response = current_app.make_response(view(**kwargs))
        except Exception as exc:  # the app's error handlers make the answer to keep
            response = current_app.make_response(current_app.handle_user_exception(exc))
    except BaseException:
        idempotency.finish(db(), g.user.id, key, idempotency.Answer(500, b""), secret)
        raise
    idempotency.finish(db(), g.user.id, key, idempotency.Answer(response.status_code, response.get_data()), secret)
    return response


MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest, counted without parsing (strings skipped):
    the parser recurses once per level and would fail on a body like '[' * 100000."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(raw):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in (b"]", b"}"):
            depth -= 1
    return deepest


def _json_body(allow_list=False) -> dict | list:
    """The request's JSON object (or list), bounded in size and depth before it is parsed."""
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge(f"Förfrågan får vara högst {MAX_JSON_BYTES // 1024} kB.")
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise BadRequest(f"JSON-datat får vara nästlat högst {MAX_JSON_DEPTH} nivåer djupt.")
    data = request.get_json(silent=True)
    if allow_list and isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise BadRequest("Förfrågan måste vara ett JSON-objekt" + (" eller en lista." if allow_list else "."))
    return data


def _links(status, issued) -> dict:
    links = [
        api_schema.Link(
            party=link.party.name,
            url=sign_url(link.token),
            version=link.version_number,
            earlier_answer=link.earlier_answer,
        )
        for link in issued
    ]
    return api_schema.Links(status=status, links=links).model_dump(mode="json")


@bp.post("/agreements")
@described(
    "createAgreement",
    "agreements",
    "Skapa ett utkast",
    body=api_schema.NewAgreement,
    ok={201: api_schema.Created},
    errors=(400, 401, 403, 409, 413, 422),
)
@token_required(*DRAFTERS)
def create():
    with db().session() as session:
        body = _json_body()
        registry.check_classification(session, body)
        agreement = agreements.create_draft(session, files(), body, g.user, request_actor())
        missing = missing_for_sending(agreement.data)
        return api_schema.Created(id=agreement.id, status=agreement.status, missing=missing).model_dump(
            mode="json"
        ), 201


@bp.get("/agreements")
@described(
    "listAgreements",
    "agreements",
    "Lista avtal, en sida i taget",
    query=api_schema.ListQuery,
    ok={200: api_schema.ListPage},
    errors=(400, 401, 403),
)
@token_required(*READERS)
def index():
    """One page of agreements, newest change first unless `sort` says otherwise."""
    # Exactly the parameters the description documents: a name changed there is a KeyError here.
    args = {name: request.args.get(name, "") for name in api_schema.ListQuery.model_fields}
    wanted = args["status"]
    if wanted and wanted not in agreements.STATUS_LABELS:
        raise BadRequest("Okänd status. Använd draft, sent, completed eller declined.")
    filters = listing.Filters(
        text=args["q"],
        status=wanted,
        org_number=args["org_number"],
        registration_number=args["registration_number"],
        updated_since=_utc_datetime(args["updated_since"]),
    )
    try:
        with db().session() as session:
            page = listing.find(
                session, filters, args["sort"] or "updated", listing.page_size(args["limit"]), args["cursor"] or None
            )
    except listing.ListingError as exc:
        raise BadRequest(exc.message) from None
    return api_schema.ListPage(items=[_list_item(row) for row in page.rows], next_cursor=page.next_cursor).model_dump(
        mode="json"
    )


def _utc_datetime(text):
    """An ISO 8601 time as naive UTC (as stored); a time without offset is taken as UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("updated_since ska vara en tid enligt ISO 8601, till exempel 2026-01-31T12:00:00Z.") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _list_item(row) -> api_schema.ListItem:
    agreement = row.agreement
    confirmed, total = row.progress
    return api_schema.ListItem(
        id=agreement.id,
        kind=agreement.kind,
        title=agreement.title,
        registration_number=agreement.registration_number,
        status=agreement.status,
        updated_at=agreement.updated_at.replace(tzinfo=UTC).isoformat(),
        parties=api_schema.Progress(confirmed=confirmed, total=total),
        url=absolute_url(current_app, url_for(".show", agreement_id=agreement.id)),
    )


@bp.get("/agreements/<int:agreement_id>")
@described(
    "getAgreement",
    "agreements",
    "Status, parternas bekräftelser och den slutliga PDF:en",
    ok={200: api_schema.AgreementStatus},
    errors=(401, 403, 404),
)
@token_required(*READERS)
def show(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        version = signing.latest_version(session, agreement.id)
        return api_schema.AgreementStatus(
            id=agreement.id,
            kind=agreement.kind,
            title=agreement.title,
            status=agreement.status,
            version=version.number if version else None,
            pdf_sha256=version.pdf_sha256 if version else None,
            parties=[_party_entry(standing) for standing in signing.party_statuses(session, agreement)],
            final=_final_entry(final.current_final(session, agreement)),
            final_documents=[api_schema.FinalPdf(number=f.number, sha256=f.sha256) for f in agreement.final_documents],
            joined=_joined_summary(session, agreement),
        ).model_dump(mode="json")


def _joined_summary(session, agreement) -> api_schema.JoinedSummary | None:
    if not status.is_open_for_accession(agreement):
        return None
    counts = accession_records.counts(session, agreement)
    register = party_register.latest(session, agreement.id)
    register_url = _api_url(".register_file", agreement.id, ending="pdf") if register else None
    return api_schema.JoinedSummary(
        joined=counts.joined,
        confirmed=counts.confirmed,
        declined=counts.declined,
        records=counts.records,
        url=_api_url(".joined", agreement.id),
        register=register_url,
    )


def _api_url(endpoint, agreement_id, **values) -> str:
    return absolute_url(current_app, url_for(endpoint, agreement_id=agreement_id, **values))


@bp.get("/agreements/<int:agreement_id>/joined")
@described(
    "listJoined",
    "parties",
    "Organisationer som anslutit sig senare, en sida i taget",
    query=api_schema.JoinedQuery,
    ok={200: api_schema.JoinedPage},
    errors=(400, 401, 403, 404),
)
@token_required(*READERS)
def joined(agreement_id):
    cursor = request.args.get("cursor", "")
    if cursor and not cursor.isdigit():
        raise BadRequest("cursor ska vara next_cursor från föregående sida.")
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        page = accession_records.joined_page(session, agreement, int(cursor) if cursor else None)
        items = [_joined_entry(agreement_id, row) for row in page.rows]
    next_cursor = str(page.next_after) if page.next_after is not None else None
    return api_schema.JoinedPage(items=items, next_cursor=next_cursor).model_dump(mode="json")


def _joined_entry(agreement_id, row) -> api_schema.JoinedEntry:
    entry = _party_entry(row)
    record = None
    if row.record is not None:
        url = _api_url(".record_pdf", agreement_id, number=row.record.number)
        record = api_schema.AccessionRecordRef(number=row.record.number, sha256=row.record.sha256, url=url)
    return api_schema.JoinedEntry(**entry.model_dump(), record=record)


@bp.get("/agreements/<int:agreement_id>/records/<int:number>.pdf")
@described(
    "downloadAccessionRecord",
    "documents",
    "En anslutnings förseglade bevis (PDF/A)",
    ok={200: "application/pdf"},
    errors=(401, 403, 404),
)
@token_required(*READERS)
def record_pdf(agreement_id, number):
    with db().session() as session:
        record, data = accession_records.download_record(session, files(), agreement_id, number, request_actor())
    return attachment(data, "application/pdf", f"avtal-{agreement_id}-anslutning-{record.number}.pdf")


@bp.get("/agreements/<int:agreement_id>/register.<any(pdf, csv, xlsx):ending>")
@described(
    "downloadRegister",
    "documents",
    "Den senaste förteckningen över parterna: pdf, csv eller xlsx",
    ok={200: tuple(content_type for _, content_type in party_register.FORMATS.values())},
    errors=(401, 403, 404),
)
@token_required(*READERS)
def register_file(agreement_id, ending):
    with db().session() as session:
        latest = party_register.latest(session, agreement_id)
        if latest is None:
            raise NotFound("Ingen förteckning över parterna är gjord ännu.")
        register, data, content_type = party_register.download(
            session, files(), agreement_id, latest.number, ending, request_actor()
        )
    return attachment(data, content_type, f"avtal-{agreement_id}-forteckning-{register.number}.{ending}")


def _party_entry(standing) -> api_schema.PartyEntry:
    party, answer = standing.party, standing.answer
    confirmation = None
    if answer is not None:
        confirmation = api_schema.Confirmation(
            name=answer.signer_name,
            title=answer.signer_title,
            place=answer.place,
            date=local_time(answer.created_at).date(),
            time=local_time(answer.created_at).isoformat(timespec="seconds"),
            reason=answer.reason or None,
            version=answer.version.number,
        )
    return api_schema.PartyEntry(
        party=party.name, org_number=party.org_number, status=standing.status, confirmation=confirmation
    )


def _final_entry(document) -> api_schema.LatestFinalPdf | None:
    """The final PDF of the agreement as it stands, or None (not completed, or still being made)."""
    if document is None:
        return None
    url = absolute_url(current_app, url_for("api.final_pdf", agreement_id=document.agreement_id))
    return api_schema.LatestFinalPdf(number=document.number, sha256=document.sha256, url=url)


@bp.post("/agreements/<int:agreement_id>/send")
@described(
    "sendAgreement",
    "agreements",
    "Lås versionen och skicka länkar",
    description="En ny version gör parternas svar på den förra ogiltiga; `change_note` säger vad som ändrats. "
    "Svaret har länkarna till de parter som får sina nu; med `signing_order` får de andra sina med e-post "
    "när parterna före dem har bekräftat.",
    body=api_schema.SendBody,
    ok={200: api_schema.Links},
    errors=(400, 401, 403, 404, 409, 422, 503),
)
@token_required(*DRAFTERS)
def send(agreement_id):
    body = _json_body() if request.get_data() else {}
    note = body.get("change_note", "") if isinstance(body, dict) else ""
    if not isinstance(note, str):
        raise InvalidInput("Beskrivningen av ändringen ska vara en text.", {"change_note": "ska vara en text"})
    order = body.get("signing_order", signing.TOGETHER)
    terms = agreements.check_sending_terms("", "", "", local_time(utcnow()).date(), link_max_age(), order)
    agreement, issued = send_for_signature(agreement_id, agreements.check_change_note(note), terms)
    return _links(agreement.status, issued)


@bp.post("/agreements/<int:agreement_id>/parties")
@described(
    "addParties",
    "parties",
    "Anslut en ny part, eller en lista med parter (överenskommelse)",
    description="En part: svaret har dess länk (201). En lista: varje rad kontrolleras och "
    "inget sparas om någon har fel (422, fel per rad); annars skickas länkarna med e-post "
    "via jobbkön (202) och förloppet kan följas på adressen i svaret.",
    body=api_schema.NewParties,
    ok={201: api_schema.Links, 202: api_schema.AccessionStarted},
    errors=(400, 401, 403, 404, 409, 413, 422),
)
@token_required(*DRAFTERS)
def add_party(agreement_id):
    """One party (an object: its link in the answer) or a list (links sent by email, by the job queue)."""
    body = _json_body(allow_list=True)
    if isinstance(body, list):
        return _add_parties(agreement_id)
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        issued = agreements.add_party(session, link_serializer(), agreement, body, link_max_age(), request_actor())
        return _links(agreement.status, [issued]), 201


def _add_parties(agreement_id):
    """A list joins only whole: any row with a problem and nothing is stored."""
    raw = request.get_data(cache=True)
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        agreements.check_open_for_accession(agreement)
        try:
            accession.check_whole(session, agreement, "api.json", raw)
        except InvalidInput as refused:  # rows are numbered from 1 there, a list's items from 0 here
            rows = {str(int(line) - 1): problem for line, problem in refused.errors.items()}
            raise InvalidInput(refused.message, rows) from None
        stored = accession.store(session, files(), agreement, "api.json", raw, g.user)
        added = accession.accept(session, stored, request_actor(), can_email=mail.is_configured(current_app))
        accession_id = stored.id
    current_app.extensions["jobs"].enqueue_accession(accession_id)
    url = absolute_url(current_app, url_for(".accession_status", agreement_id=agreement_id, accession_id=accession_id))
    started = api_schema.AccessionStarted(id=accession_id, status="sending", parties=added, url=url)
    return started.model_dump(mode="json"), 202


@bp.get("/agreements/<int:agreement_id>/accessions/<int:accession_id>")
@described(
    "getAccession",
    "parties",
    "Hur långt en listas länkar har kommit",
    ok={200: api_schema.AccessionProgress},
    errors=(401, 403, 404),
)
@token_required(*READERS)
def accession_status(agreement_id, accession_id):
    """How far a list's links have gone out."""
    with db().session() as session:
        found = accession.get_accession(session, agreement_id, accession_id)
        progress = accession.progress(session, found) if found.status != "checked" else None
        return api_schema.AccessionProgress(
            id=found.id,
            status=found.status,
            total=progress.total if progress else 0,
            emailed=progress.emailed if progress else 0,
            failed=progress.failed if progress else 0,
            unknown=progress.unknown if progress else 0,
            skipped=progress.skipped if progress else 0,
        ).model_dump(mode="json")


@bp.get("/agreements/<int:agreement_id>/final.pdf")
@described(
    "downloadFinalPdf",
    "documents",
    "Den senaste slutliga PDF:en",
    description="409 (final-pending) med Retry-After medan jobbet gör den slutliga PDF:en för ett klart "
    "avtal; 503 om den inte gick att göra och inte längre görs om; 406 om klienten inte tar emot application/pdf.",
    ok={200: "application/pdf"},
    errors=(401, 403, 404, 406, 409, 503),
)
@token_required(*READERS)
def final_pdf(agreement_id):
    if request.accept_mimetypes and request.accept_mimetypes.best_match(["application/pdf"]) is None:  # none: any
        raise NotAcceptable("Den slutliga PDF:en finns bara som application/pdf.")
    try:
        return final_pdf_download(agreement_id)
    except Conflict as pending:  # the only conflict here: completed, its final PDF still being made
        raise FinalPending(pending.message, retry_after=pending.retry_after) from None


@bp.get("/openapi.json")
@not_described
def openapi():
    return jsonify(document(current_app, bp.name))
