"""Errors as HTTP: each kind's status (once), and the API's problem documents (RFC 9457).

A problem document is `application/problem+json` with a stable `type` and `code` per kind
that a program can branch on, a Swedish `title` and `detail`, and, for invalid data, the
problem of each field as a list of `{pointer, message}` (a JSON Pointer into the body sent).
`message` repeats `detail` for clients written before problem documents.
"""

from flask import jsonify, request

from ..errors import AvtalError
from .api_schema import FieldError, Problem

TYPE = "urn:avtalstjansten:problem:{code}"
MEDIA_TYPE = "application/problem+json"

# The HTTP status of each kind of error; the domain itself never names one.
STATUS = {
    "bad-request": 400,
    "unauthenticated": 401,
    "not-allowed": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "not-acceptable": 406,
    "conflict": 409,
    "final-pending": 409,
    "too-large": 413,
    "invalid-input": 422,
    "too-many-requests": 429,
    "error": 500,
    "backup-failed": 500,
    "unavailable": 503,
    "link-invalid": 404,
    "link-used": 409,
    "link-expired": 410,
    "link-revoked": 410,
    "link-outdated": 410,
    "download-invalid": 404,
    "download-expired": 410,
}
# The code of an HTTP error that never was an AvtalError (an unknown path, a method not
# served): the first kind above with its status.
CODE_OF_STATUS = {status: code for code, status in reversed(STATUS.items())}
TITLES = {
    "bad-request": "Felaktig begäran",
    "unauthenticated": "Inloggning krävs",
    "not-allowed": "Ingen behörighet",
    "not-found": "Finns inte",
    "method-not-allowed": "Otillåten metod",
    "not-acceptable": "Svaret finns inte i efterfrågad form",
    "conflict": "Går inte i avtalets nuvarande läge",
    "final-pending": "Den slutliga PDF:en görs",
    "too-large": "För stort",
    "invalid-input": "Ogiltiga uppgifter",
    "too-many-requests": "För många försök",
    "unavailable": "Tillfälligt otillgänglig",
    "error": "Tekniskt fel",
}


def status_for(error: AvtalError) -> int:
    return STATUS.get(error.code, 500)


def code_for_status(status: int) -> str:
    return CODE_OF_STATUS.get(status, "error" if status >= 500 else "bad-request")


def is_api_request() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def pointer(field: str) -> str:
    """'parties.1.org_number' as the JSON Pointer '#/parties/1/org_number'."""
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in field.split("."))


def problem(code: str, detail: str, errors: dict[str, str] | None = None, status: int | None = None) -> dict:
    """The problem document of one kind; `errors` maps a field ('a.0.b') to its Swedish problem."""
    return Problem(
        type=TYPE.format(code=code),
        code=code,
        title=TITLES.get(code, TITLES["error"]),
        status=status or STATUS.get(code, 500),
        detail=detail,
        message=detail,
        errors=[FieldError(pointer=pointer(field), message=text) for field, text in errors.items()] if errors else None,
    ).body()


def problem_response(code: str, detail: str, errors=None, status=None):
    """A problem document as the answer; `status` only for HTTP errors whose code stands for several."""
    response = jsonify(problem(code, detail, errors, status))
    response.status_code = status or STATUS.get(code, 500)
    response.mimetype = MEDIA_TYPE
    if response.status_code == 401:
        # RFC 6750: a token was sent but is not ours (or revoked), or none was sent at all.
        sent = request.headers.get("Authorization", "").lower().startswith("bearer ")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if sent else "Bearer"
    return response


def domain_problem(error: AvtalError):
    response = problem_response(error.code, error.message, getattr(error, "errors", None), status_for(error))
    if error.retry_after:
        response.headers["Retry-After"] = str(error.retry_after)
    return response
