"""The entry point for gunicorn (`service.wsgi:app`): the app, once every part it needs
answers, with JSON logs. Importing it starts nothing: gunicorn.conf.py calls `start` in
each worker process once the app is loaded."""

import sys

from . import create_app
from .config import ConfigError
from .operations import logs, metrics, readiness

try:
    app = create_app()
    readiness.check_at_start(app)
except ConfigError as exc:  # refuse to start half-working; say which setting
    sys.stderr.write(f"{exc}\n")
    sys.exit(1)
logs.configure(app)


def start(app):
    """What a server worker runs beside its requests: its metrics on AVTAL_METRICS_BIND, its
    LibreOffice warming up and, unless AVTAL_WEB_RUNS_JOBS=0 (a separate `flask worker`
    runs them), the background jobs."""
    metrics.serve(app)
    app.extensions["office"].start_in_background()
    if app.config["WEB_RUNS_JOBS"]:
        app.extensions["jobs"].start_consumer()
