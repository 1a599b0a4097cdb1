"""Security headers, CSRF protection and Swedish error pages for the whole app."""

from flask import current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..errors import AvtalError, Conflict, InvalidInput, NotAllowed, NotFound, Unavailable

csrf = CSRFProtect()

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

ERRORS = {
    400: ("Felaktig begäran", "Begäran kunde inte behandlas. Kontrollera uppgifterna och försök igen."),
    401: ("Inloggning krävs", "Du behöver logga in för att fortsätta."),
    403: ("Ingen behörighet", "Du har inte behörighet att se den här sidan."),
    404: ("Sidan finns inte", "Sidan du söker finns inte. Kontrollera adressen eller gå till startsidan."),
    405: ("Otillåten metod", "Sidan kan inte användas på det här sättet."),
    413: ("För stort", "Filen eller formuläret är för stort."),
    429: ("För många försök", "Du har gjort för många försök. Vänta en stund och försök igen."),
    500: ("Tekniskt fel", "Något gick fel hos oss. Försök igen om en stund."),
}
CSRF_MESSAGE = "Formuläret har gått ut. Ladda om sidan och försök igen."

# The HTTP status for each kind of domain error; the domain itself never names one.
ERROR_STATUS = {NotFound: 404, NotAllowed: 403, Conflict: 409, InvalidInput: 422, Unavailable: 503}


def init_app(app):
    csrf.init_app(app)
    app.after_request(set_headers)
    app.register_error_handler(CSRFError, lambda error: error_response(400, CSRF_MESSAGE))
    app.register_error_handler(HTTPException, handle_http_error)


def set_headers(response):
    """Set the default headers; a view that needs a stricter one (no-referrer) sets it itself.
    Everything but the static files may carry personal data (pages, PDFs, audit logs, API
    JSON), so it is kept out of every cache unless the view says otherwise."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def handle_http_error(error):
    response = error_response(error.code, _describe(error.code)[1])
    if error.code == 405:
        response.headers["Allow"] = ", ".join(error.valid_methods or ())
    return response


def status_for(error: AvtalError) -> int:
    return next((status for kind, status in ERROR_STATUS.items() if isinstance(error, kind)), 500)


def domain_error_response(error: AvtalError):
    """The Swedish error page (or JSON) for a domain error a view did not handle itself."""
    return error_response(status_for(error), error.message)


def error_response(status, message):
    """JSON for the API, a page for people."""
    if request.path.startswith("/api/"):
        body = jsonify(message=message)
    else:
        body = render_template("error.html", status=status, title=_describe(status)[0], message=message)
    return make_response(body, status)


def _describe(status):
    return ERRORS.get(status) or ERRORS[500 if status >= 500 else 400]
