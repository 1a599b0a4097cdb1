"""The entry point for gunicorn (`service.wsgi:app`): the app with its LibreOffice
warming up and its background jobs running in this worker process."""

from . import create_app

app = create_app()
app.extensions["office"].start_in_background()
app.extensions["jobs"].start_consumer()
