"""The entry point for gunicorn (`service.wsgi:app`): the app, once every part it needs
answers, with JSON logs, its metrics on AVTAL_METRICS_BIND, its LibreOffice warming up
and, unless AVTAL_WEB_RUNS_JOBS=0 (a separate `flask worker` runs them), its background
jobs running in this worker process."""

import sys

from . import create_app, logs, metrics, readiness
from .config import ConfigError

# Request threads wait for CPU-bound ones (filling a Word document for a preview, assembling
# a final PDF) at every database or socket call; a shorter switch interval than Python's
# 5 ms keeps a party's page from queueing behind them (scripts/load, with previews).
sys.setswitchinterval(0.0005)

try:
    app = create_app()
    readiness.check_at_start(app)
except ConfigError as exc:  # refuse to start half-working; say which setting
    sys.stderr.write(f"{exc}\n")
    sys.exit(1)
logs.configure(app)
metrics.serve(app)
app.extensions["office"].start_in_background()
if app.config["WEB_RUNS_JOBS"]:
    app.extensions["jobs"].start_consumer()
