"""The entry point for gunicorn (`service.wsgi:app`): the app with its LibreOffice
warming up and, unless AVTAL_WEB_RUNS_JOBS=0 (a separate `flask worker` runs them),
its background jobs running in this worker process."""

from . import create_app

app = create_app()
app.extensions["office"].start_in_background()
if app.config["WEB_RUNS_JOBS"]:
    app.extensions["jobs"].start_consumer()
