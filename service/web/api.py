"""JSON API for integrations, authenticated by a per-user bearer token.

Errors are JSON objects with a Swedish `message` (and `errors` per field for invalid data).
"""

import functools
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from .. import accession, agreements, final, idempotency, listing, mail, signing, users
from ..errors import AvtalError
from ..formatting import local_time
from ..mail import absolute_url
from ..roles import DRAFTERS, READERS
from ..schema import agreement_json_schema, missing_for_sending
from .context import attachment, db, files, link_max_age, link_serializer, request_actor, send_for_signature, sign_url
from .security import status_for

bp = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    """A refusal of the HTTP layer itself: no token, the wrong role, a body that is not JSON."""

    def __init__(self, status, message, errors=None):
        self.status, self.message, self.errors = status, message, errors
        super().__init__(message)


@bp.errorhandler(ApiError)
def _api_error(exc):
    body = {"message": exc.message}
    if exc.errors:
        body["errors"] = exc.errors
    return jsonify(body), exc.status


@bp.errorhandler(AvtalError)
def _domain_error(exc):
    response, status = _api_error(ApiError(status_for(exc), exc.message, getattr(exc, "errors", None)))
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


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
                raise ApiError(401, "Ogiltig eller saknad API-nyckel.")
            if user.role not in roles:
                raise ApiError(403, "Din roll får inte göra detta.")
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
        return Response(
            stored.body, status=stored.status, mimetype="application/json", headers={"Idempotent-Replayed": "true"}
        )
    try:
        try:
            response = current_app.make_response(view(**kwargs))
        except Exception as exc:  # the blueprint's error handlers make the answer to keep
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
        raise ApiError(413, f"Förfrågan får vara högst {MAX_JSON_BYTES // 1024} kB.")
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(400, f"JSON-datat får vara nästlat högst {MAX_JSON_DEPTH} nivåer djupt.")
    data = request.get_json(silent=True)
    if allow_list and isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise ApiError(400, "Förfrågan måste vara ett JSON-objekt" + (" eller en lista." if allow_list else "."))
    return data


def _links(issued):
    return [{"party": link.party.name, "url": sign_url(link.token)} for link in issued]


@bp.post("/agreements")
@token_required(*DRAFTERS)
def create():
    with db().session() as session:
        agreement = agreements.create_draft(session, files(), _json_body(), g.user, request_actor())
        missing = missing_for_sending(agreement.data)
        return jsonify({"id": agreement.id, "status": agreement.status, "missing": missing}), 201


@bp.get("/agreements")
@token_required(*READERS)
def index():
    """One page of agreements, newest change first unless `sort` says otherwise."""
    args = request.args
    status = args.get("status", "")
    if status and status not in agreements.STATUS_LABELS:
        raise ApiError(400, "Okänd status. Använd draft, sent, completed eller declined.")
    filters = listing.Filters(
        text=args.get("q", ""),
        status=status,
        org_number=args.get("org_number", ""),
        registration_number=args.get("registration_number", ""),
        updated_since=_utc_datetime(args.get("updated_since", "")),
    )
    try:
        with db().session() as session:
            page = listing.find(
                session, filters, args.get("sort", "updated"), listing.page_size(args.get("limit")), args.get("cursor")
            )
    except listing.ListingError as exc:
        raise ApiError(400, exc.message) from None
    return jsonify({"items": [_list_item(row) for row in page.rows], "next_cursor": page.next_cursor})


def _utc_datetime(text):
    """An ISO 8601 time as naive UTC (as stored); a time without offset is taken as UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "updated_since ska vara en tid enligt ISO 8601, till exempel 2026-01-31T12:00:00Z."
        ) from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _list_item(row) -> dict:
    agreement = row.agreement
    confirmed, total = row.progress
    return {
        "id": agreement.id,
        "kind": agreement.kind,
        "title": agreement.title,
        "registration_number": agreement.registration_number,
        "status": agreement.status,
        "updated_at": agreement.updated_at.replace(tzinfo=UTC).isoformat(),
        "parties": {"confirmed": confirmed, "total": total},
        "url": absolute_url(current_app, url_for(".show", agreement_id=agreement.id)),
    }


@bp.get("/agreements/<int:agreement_id>")
@token_required(*READERS)
def show(agreement_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        parties = [_party_entry(standing) for standing in signing.party_statuses(session, agreement)]
        version = signing.latest_version(session, agreement.id)
        return jsonify(
            {
                "id": agreement.id,
                "kind": agreement.kind,
                "title": agreement.title,
                "status": agreement.status,
                "version": version.number if version else None,
                "pdf_sha256": version.pdf_sha256 if version else None,
                "parties": parties,
                "final": _final_entry(final.current_final(session, agreement)),
                "final_documents": [{"number": f.number, "sha256": f.sha256} for f in agreement.final_documents],
            }
        )


def _party_entry(standing) -> dict:
    party, answer = standing.party, standing.answer
    entry = {"party": party.name, "org_number": party.org_number, "status": standing.status, "confirmation": None}
    if answer is not None:
        entry["confirmation"] = {
            "name": answer.signer_name,
            "title": answer.signer_title,
            "place": answer.place,
            "date": local_time(answer.created_at).date().isoformat(),
            "time": local_time(answer.created_at).isoformat(timespec="seconds"),
            "reason": answer.reason or None,
        }
    return entry


def _final_entry(document):
    """The final PDF of the agreement as it stands, or None (not completed, or still being made)."""
    if document is None:
        return None
    url = absolute_url(current_app, url_for("api.final_pdf", agreement_id=document.agreement_id))
    return {"number": document.number, "sha256": document.sha256, "url": url}


@bp.post("/agreements/<int:agreement_id>/send")
@token_required(*DRAFTERS)
def send(agreement_id):
    with db().session() as session:
        agreements.handled_agreement(session, agreement_id, g.user)
    agreement, issued = send_for_signature(agreement_id)
    return jsonify({"status": agreement.status, "links": _links(issued)})


@bp.post("/agreements/<int:agreement_id>/parties")
@token_required(*DRAFTERS)
def add_party(agreement_id):
    """One party (an object: its link in the answer) or a list (links sent by email, by the job queue)."""
    body = _json_body(allow_list=True)
    if isinstance(body, list):
        return _add_parties(agreement_id)
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        issued = agreements.add_party(
            session, files(), link_serializer(), agreement, body, link_max_age(), request_actor()
        )
        return jsonify({"status": agreement.status, "links": _links([issued])}), 201


def _add_parties(agreement_id):
    """A list joins only whole: any row with a problem and nothing is stored."""
    raw = request.get_data(cache=True)
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        agreements.check_open_for_accession(agreement)
        accession.check_whole(session, agreement, "api.json", raw)
        stored = accession.store(session, files(), agreement, "api.json", raw, g.user)
        added = accession.accept(session, files(), stored, request_actor(), can_email=mail.is_configured(current_app))
        accession_id = stored.id
    current_app.extensions["jobs"].enqueue_accession(accession_id)
    body = {
        "id": accession_id,
        "status": "sending",
        "parties": len(added),
        "url": absolute_url(
            current_app, url_for(".accession_status", agreement_id=agreement_id, accession_id=accession_id)
        ),
    }
    return jsonify(body), 202


@bp.get("/agreements/<int:agreement_id>/accessions/<int:accession_id>")
@token_required(*READERS)
def accession_status(agreement_id, accession_id):
    """How far a list's links have gone out."""
    with db().session() as session:
        found = accession.get_accession(session, agreement_id, accession_id)
        progress = accession.progress(session, found) if found.status != "checked" else None
        counts = {
            "total": progress.total if progress else 0,
            "emailed": progress.emailed if progress else 0,
            "failed": progress.failed if progress else 0,
            "unknown": progress.unknown if progress else 0,
        }
        return jsonify({"id": found.id, "status": found.status, **counts})


@bp.get("/agreements/<int:agreement_id>/final.pdf")
@token_required(*READERS)
def final_pdf(agreement_id):
    with db().session() as session:
        document, data = agreements.download_final(session, files(), agreement_id, None, request_actor())
    return attachment(data, "application/pdf", f"avtal-{agreement_id}-slutlig-{document.number}.pdf")


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


def openapi_document() -> dict:
    schema = agreement_json_schema()
    defs = schema.pop("$defs", {})
    components = {name: _rewrite_refs(s) for name, s in defs.items()}
    components["Agreement"] = _rewrite_refs(schema)
    party = components.get("Party", {})
    error = {
        "type": "object",
        "properties": {"message": {"type": "string"}, "errors": {"type": "object"}},
        "required": ["message"],
    }
    components["Error"] = error
    links = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"party": {"type": "string"}, "url": {"type": "string"}},
                },
            },
        },
    }
    components["Links"] = links

    def responses(ok_status, ok_schema, *errors):
        out = {str(ok_status): {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}}
        for status in errors:
            out[str(status)] = {
                "description": "Fel",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        return out

    components["Status"] = _status_schema()
    id_param = [{"name": "agreement_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    key = [IDEMPOTENCY_KEY_PARAMETER]
    ref = {"$ref": "#/components/schemas/Links"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Avtalstjänsten API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/agreements": {
                "get": {
                    "summary": "Lista avtal, en sida i taget",
                    "parameters": _list_parameters(),
                    "responses": responses(200, _list_schema(), 400, 401, 403),
                },
                "post": {
                    "summary": "Skapa ett utkast",
                    "parameters": key,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Agreement"}}},
                    },
                    "responses": responses(
                        201, {"type": "object", "properties": {"id": {"type": "integer"}}}, 400, 401, 403, 409, 413, 422
                    ),
                },
            },
            "/api/agreements/{agreement_id}": {
                "get": {
                    "summary": "Status, parternas bekräftelser och den slutliga PDF:en",
                    "parameters": id_param,
                    "responses": responses(200, {"$ref": "#/components/schemas/Status"}, 401, 403, 404),
                }
            },
            "/api/agreements/{agreement_id}/send": {
                "post": {
                    "summary": "Lås versionen och skicka länkar",
                    "parameters": id_param + key,
                    "responses": responses(200, ref, 400, 401, 403, 404, 409, 422, 503),
                }
            },
            "/api/agreements/{agreement_id}/parties": {
                "post": {
                    "summary": "Anslut en ny part, eller en lista med parter (överenskommelse)",
                    "description": "En part: svaret har dess länk (201). En lista: varje rad kontrolleras och "
                    "inget sparas om någon har fel (422, fel per rad); annars skickas länkarna med e-post "
                    "via jobbkön (202) och förloppet kan följas på adressen i svaret.",
                    "parameters": id_param + key,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [party, {"type": "array", "items": party, "minItems": 1}]}
                            }
                        },
                    },
                    "responses": {
                        **responses(201, ref, 400, 401, 403, 404, 409, 413, 422),
                        "202": {
                            "description": "Listan är ansluten; länkarna skickas",
                            "content": {"application/json": {"schema": _accession_schema()}},
                        },
                    },
                }
            },
            "/api/agreements/{agreement_id}/accessions/{accession_id}": {
                "get": {
                    "summary": "Hur långt en listas länkar har kommit",
                    "parameters": [
                        *id_param,
                        {"name": "accession_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    ],
                    "responses": responses(200, _accession_schema(), 401, 403, 404),
                }
            },
            "/api/agreements/{agreement_id}/final.pdf": {
                "get": {
                    "summary": "Den senaste slutliga PDF:en",
                    "description": (
                        "409 med Retry-After medan jobbet gör den slutliga PDF:en för ett klart avtal; "
                        "503 om den inte gick att göra och inte längre görs om."
                    ),
                    "parameters": id_param,
                    "responses": {
                        "200": {"description": "PDF", "content": {"application/pdf": {}}},
                        **{
                            str(s): {
                                "description": "Fel",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                            }
                            for s in (401, 403, 404, 409, 503)
                        },
                    },
                }
            },
        },
    }


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": (
        "Samma nyckel igen ger samma svar utan att något görs två gånger; "
        "samma nyckel med en annan förfrågan ger 422, medan den första pågår 409."
    ),
}


def _status_schema() -> dict:
    final_document = {
        "type": ["object", "null"],
        "description": "null tills avtalet är klart och jobbet har gjort dess slutliga PDF",
        "properties": {"number": {"type": "integer"}, "sha256": {"type": "string"}, "url": {"type": "string"}},
        "required": ["number", "sha256", "url"],
    }
    return {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": list(agreements.STATUS_LABELS)},
            "version": {"type": ["integer", "null"]},
            "pdf_sha256": {"type": ["string", "null"]},
            "parties": {"type": "array", "items": {"type": "object"}},
            "final": final_document,
            "final_documents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"number": {"type": "integer"}, "sha256": {"type": "string"}},
                },
            },
        },
        "required": ["id", "status", "final"],
    }


def _list_parameters() -> list[dict]:
    def query(name, schema, description):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return [
        query("limit", {"type": "integer", "minimum": 1, "maximum": listing.MAX_PAGE_SIZE}, "Sidstorlek (50)"),
        query("cursor", {"type": "string"}, "next_cursor från föregående sida"),
        query("sort", {"type": "string", "enum": list(listing.SORTS)}, "Sortering (updated)"),
        query("status", {"type": "string", "enum": list(agreements.STATUS_LABELS)}, "Status"),
        query("q", {"type": "string"}, "Fritext: titel, part, diarienummer, organisationsnummer"),
        query("registration_number", {"type": "string"}, "Diarienummer, helt eller delvis"),
        query("org_number", {"type": "string"}, "En parts organisationsnummer"),
        query("updated_since", {"type": "string", "format": "date-time"}, "Ändrade från och med"),
    ]


def _list_schema() -> dict:
    item = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "title": {"type": "string"},
            "registration_number": {"type": "string"},
            "status": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
            "parties": {
                "type": "object",
                "properties": {"confirmed": {"type": "integer"}, "total": {"type": "integer"}},
            },
            "url": {"type": "string"},
        },
        "required": ["id", "kind", "title", "registration_number", "status", "updated_at", "parties", "url"],
    }
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}},
        "required": ["items", "next_cursor"],
    }


def _accession_schema() -> dict:
    counts = {name: {"type": "integer"} for name in ("parties", "total", "emailed", "failed", "unknown")}
    return {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "status": {"type": "string"}, "url": {"type": "string"}, **counts},
        "required": ["id", "status"],
    }


def _rewrite_refs(node):
    """pydantic writes '#/$defs/X'; OpenAPI wants '#/components/schemas/X'."""
    if isinstance(node, dict):
        return {k: _rewrite_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):
        return node.replace("#/$defs/", "#/components/schemas/")
    return node
