"""Structured logs: one JSON object a line, each carrying the request id of the request
it was written in (X-Request-Id from the load balancer, or one made here)."""

import json
import logging
import sys
from datetime import UTC, datetime

from flask import g, has_request_context


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _with_request_id(record):
    """Note the request id on the record while still in the request's thread."""
    if has_request_context() and "request_id" in g:
        record.request_id = g.request_id
    return True


def configure(app):
    """JSON lines on stderr for the whole process (AVTAL_LOG_FORMAT=json, the default for
    gunicorn and the worker); anything else leaves Python's logging as it is."""
    if app.config["LOG_FORMAT"] != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_with_request_id)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
