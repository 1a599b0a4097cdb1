import itertools
import shutil
import threading
from email import message_from_bytes
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from jinja2 import FileSystemBytecodeCache
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from scripts.servers import ObjectStoreServer, PostgresServer
from service import create_app, users
from service import migrate as migrations
from service.db import Database
from service.documents.convert import OfficePool

from .helpers import ON_POSTGRES, free_port, load_example, login

# A cheap scrypt cost for the run's passwords: werkzeug's default takes ~90 ms a hash.
users.PASSWORD_METHOD = "scrypt:1024:8:1"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Under `pytest -n --dist loadgroup` the tests that keep files in object storage run in
    one worker process, which starts the one SeaweedFS they share."""
    for item in items:
        if item.get_closest_marker("s3"):
            item.add_marker(pytest.mark.xdist_group("s3"))


@pytest.fixture
def iop_data():
    return load_example("iop-skane-2021.json")


@pytest.fixture
def halland_data():
    return load_example("overenskommelse-halland.json")


class FastRunPool(OfficePool):
    """In a run without the slow tests, starting LibreOffice means a test lacks its mark."""

    def start(self):
        raise AssertionError("This test converts with LibreOffice: mark it @pytest.mark.slow.")


@pytest.fixture(scope="session")
def office_pool(request, tmp_path_factory):
    """One LibreOffice for the whole run, as the service keeps it, started by the first conversion:
    tests of rules, accounts and forms never wait for it."""
    fast = request.config.getoption("markexpr") == "not slow"
    pool = (FastRunPool if fast else OfficePool)(tmp_path_factory.mktemp("office"), size=1, timeout=60)
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def office(office_pool):
    """A warm LibreOffice, for the tests that talk to it directly."""
    office_pool.start()
    return office_pool


TEMPLATE_DB = "avtal_template"


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the run's own, with a migrated template database that each
    test's database is copied from (faster than migrating every time)."""
    server = PostgresServer().start()
    server.create_database(TEMPLATE_DB)
    template = Database(server.url(TEMPLATE_DB))
    migrations.upgrade(template)
    template.engine.dispose()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file that each test's database is copied from (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "avtal.sqlite3"
    template = Database(f"sqlite:///{path}")
    migrations.upgrade(template)
    template.engine.dispose()  # the last connection folds the write-ahead log into the file
    return path


@pytest.fixture
def database_url(request, tmp_path):
    """The test's own empty, migrated database: a SQLite file, or with --postgres a
    PostgreSQL database. Set in the environment, so service processes a test starts use it too."""
    if not ON_POSTGRES:
        path = tmp_path / "instance" / "avtal.sqlite3"
        path.parent.mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres")
    name = f"t{next(_database_numbers)}"
    server.create_database(name, template=TEMPLATE_DB)
    yield server.url(name)
    server.drop_database(name)


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def object_store():
    """A real S3-compatible server (SeaweedFS) on loopback, with a bucket `avtal`."""
    server = ObjectStoreServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def compiled_templates(tmp_path_factory):
    """Jinja's compiled page templates, shared by the run's apps (each would compile them again)."""
    return FileSystemBytecodeCache(tmp_path_factory.mktemp("jinja"))


@pytest.fixture
def app(request, tmp_path, office_pool, monkeypatch, database_url, compiled_templates):
    """The service on the test's own database; tests marked `s3` keep files in object storage."""
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("AVTAL_DATABASE_URL", database_url)
    if request.node.get_closest_marker("s3"):
        for name, value in request.getfixturevalue("object_store").environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AVTAL_STORAGE_URL", f"s3://avtal/{tmp_path.name}")
    app = create_app({"TESTING": True}, office=office_pool)
    app.jinja_env.bytecode_cache = compiled_templates
    yield app
    app.extensions["jobs"].close()
    app.extensions["db"].engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api_token(app):
    """A bearer token for an official, as `flask users create` prints it."""
    from service import users as accounts

    with app.extensions["db"].session() as db:
        user = accounts.create_user(db, "api@example.se", "official", accounts.generate_password())
        return accounts.issue_api_token(db, user)


@pytest.fixture
def run_jobs(app):
    """The background consumer, running in this process as the embedded default does."""
    jobs = app.extensions["jobs"]
    jobs.start_consumer()
    yield jobs
    jobs.stop_consumer()


# --- web and browser fixtures ---

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=sv-SE",
]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """make_user(role, email=None) -> (user, password): a user saved in the app's database."""
    numbers = itertools.count(1)

    def make(role="official", email=None):
        email = email or f"{role}{next(numbers)}@example.se"
        password = users.generate_password()
        with app.extensions["db"].session() as db:
            user = users.create_user(db, email, role, password)
        return user, password

    return make


@pytest.fixture
def official(client, make_user):
    """An official, logged in on `client`."""
    user, password = make_user("official", "handlaggare@region.example.se")
    login(client, user.email, password)
    return user


@pytest.fixture
def live_server(app):
    """The test's own app served over HTTP on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh Swedish browser context on the live server: `page.goto("/login")` works."""
    context = browser.new_context(locale="sv-SE", base_url=live_server)
    page = context.new_page()
    yield page
    context.close()


# --- mail fixtures ---


class Inbox:
    """An aiosmtpd handler keeping every message it receives, parsed, and each message's
    envelope recipients (who really gets it, whatever the headers say)."""

    def __init__(self):
        self.messages = []
        self.recipients = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback that the app sends to; yields its Inbox."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    yield inbox
    controller.stop()
