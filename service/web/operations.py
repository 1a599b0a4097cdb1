"""What a load balancer and an on-call person need: /healthz, /readyz, a request id on
every request and response, one log line and one latency observation per request, and a
Swedish "försök igen" page when the database is out of reach."""

import logging
import re
import time
import uuid

from flask import Blueprint, abort, current_app, g, jsonify, request
from sqlalchemy.exc import DBAPIError

from ..operations import metrics, readiness
from .security import error_response

bp = Blueprint("operations", __name__)
log = logging.getLogger("avtal.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
DATABASE_DOWN = "Tjänsten når inte sin databas just nu. Inget har sparats. Försök igen om en stund."


@bp.get("/healthz")
def healthz():
    """The process is alive and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Database, queue, storage and at least one LibreOffice host reachable."""
    found = readiness.problems(current_app._get_current_object())
    for part, problem in found.items():  # the details (addresses, errors) go to the log only
        log.warning("not ready: %s: %s", part, problem)
    parts = ("database", "queue", "storage", "office")
    body = {part: "otillgänglig" if part in found else "ok" for part in parts}
    return jsonify(body), 503 if found else 200


@bp.before_app_request
def _start():
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.started = time.perf_counter()
    if request.method not in metrics.METHODS:
        abort(405)


@bp.after_app_request
def _finish(response):
    response.headers["X-Request-Id"] = g.get("request_id", "")
    route = request.url_rule.rule if request.url_rule else "unmatched"  # never the URL: it may hold a token
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    current_app.extensions["metrics"].request(route, request.method, seconds)
    fields = {
        "method": metrics.method_label(request.method),
        "route": route,
        "status": response.status_code,
        "ms": round(seconds * 1000),
    }
    log.info("request", extra={"fields": fields, "request_id": g.get("request_id")})
    return response


@bp.app_errorhandler(DBAPIError)
def _database_unavailable(exc):
    log.error("database error: %s", type(exc.orig).__name__ if exc.orig else exc)
    return error_response(503, DATABASE_DOWN)
