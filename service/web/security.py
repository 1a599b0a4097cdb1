"""Security headers, CSRF protection and Swedish error pages for the whole app."""

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..errors import AvtalError, NotFound
from .problems import code_for_status, domain_problem, is_api_request, problem_response, status_for

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
# The blueprints whose refused changes go back to the agreement's overview instead of an error page.
BACK_TO_OVERVIEW = {"drafting", "sending"}
CSRF_MESSAGE = "Formuläret har gått ut. Ladda om sidan och försök igen."


def init_app(app):
    csrf.init_app(app)
    app.after_request(set_headers)
    app.register_error_handler(AvtalError, handle_domain_error)
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


def handle_domain_error(error: AvtalError):
    """The one handler of the AvtalError family. The API answers a problem document; on the
    officials' agreement pages a refused change goes back to the agreement's overview with the
    reason; anything else (an agreement that does not exist, a page that could not be shown)
    is an error page."""
    if is_api_request():
        return domain_problem(error)
    agreement_id = (request.view_args or {}).get("agreement_id")
    if (
        request.blueprint in BACK_TO_OVERVIEW
        and request.method == "POST"
        and agreement_id is not None
        and not isinstance(error, NotFound)
    ):
        flash(error.message, "error")
        return redirect(url_for("drafting.show", agreement_id=agreement_id))
    return domain_error_response(error)


def domain_error_response(error: AvtalError):
    """The Swedish error page for a domain error a view did not handle itself."""
    return error_response(status_for(error), error.message)


def error_response(status, message):
    """A problem document for the API, a page for people."""
    if is_api_request():
        return problem_response(code_for_status(status), message, status=status)
    body = render_template("error.html", status=status, title=_describe(status)[0], message=message)
    return make_response(body, status)


def _describe(status):
    return ERRORS.get(status) or ERRORS[500 if status >= 500 else 400]
