"""Avtalstjänsten: draft, sign and archive partnership agreements."""

import atexit
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import config
from .db import Database
from .documents import seal
from .documents.convert import OfficeHosts, OfficePool
from .jobs import Jobs
from .operations import metrics
from .previews import PreviewCache
from .renditions import Renditions
from .storage import make_store


class DatabaseId(IntegerConverter):
    """<int:...> in every route, bounded to what the database can hold (PostgreSQL's
    integer is 32 bits): a larger number in a URL is simply not found, instead of
    overflowing in the query."""

    def __init__(self, map, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, **kwargs)


def _make_office(config):
    """LibreOffice hosts elsewhere when AVTAL_OFFICE_HOSTS names them, else a pool of our own."""
    if config["OFFICE_HOSTS"]:
        return OfficeHosts(config["OFFICE_HOSTS"], timeout=config["CONVERT_TIMEOUT"])
    return OfficePool(
        config["OFFICE_DIR"],
        size=config["OFFICE_POOL_SIZE"],
        timeout=config["CONVERT_TIMEOUT"],
        memory_mb=config["OFFICE_MEMORY_MB"],
    )


def create_app(test_config=None, office=None):
    """The app factory. Tests pass `office` to share one warm LibreOffice pool."""
    app = Flask(__name__, instance_path=os.environ.get("AVTAL_INSTANCE") or None, instance_relative_config=True)
    config.private_folder(app.instance_path)
    app.config.update(config.load(app.instance_path))
    if test_config:
        app.config.update(test_config)
    for path in (config.sqlite_path(app.config["DATABASE_URL"]), app.config["JOBS_PATH"]):
        if path:
            config.private_file(path)

    with config.naming("AVTAL_DATABASE_URL"):
        app.extensions["db"] = Database(app.config["DATABASE_URL"])
    with config.naming("AVTAL_STORAGE_URL"):
        app.extensions["files"] = make_store(app.config)
    app.extensions["previews"] = PreviewCache(app.config["PREVIEW_DIR"], concurrent=app.config["PREVIEW_SLOTS"])
    if office is None:
        with config.naming("AVTAL_OFFICE_HOSTS"):
            office = _make_office(app.config)
        atexit.register(office.stop)
    app.extensions["office"] = office
    with config.naming("AVTAL_DATABASE_URL"):  # the queue lives beside the database
        app.extensions["jobs"] = Jobs(app)
    app.extensions["seal"] = seal.load_sealer(app.config, app.instance_path)
    lock_dir = os.path.join(app.instance_path, "locks")
    app.extensions["renditions"] = Renditions(app.extensions["db"], app.extensions["files"], lock_dir)

    if hops := app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.url_map.converters["int"] = DatabaseId
    from . import cli, status, web
    from .audit import actor_label
    from .formatting import kronor, local_minute

    app.jinja_env.filters.update(sv_minute=local_minute, kr=kronor, actor=actor_label)
    app.jinja_env.globals.update({rule.__name__: rule for rule in status.RULES})

    metrics.init_app(app)
    cli.register(app)
    web.register(app)
    return app
