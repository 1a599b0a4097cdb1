import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from service import create_app
from service import migrate as migrations
from service.documents.convert import OfficePool

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "scripts" / "examples"


def load_example(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def org_number(first_nine: str) -> str:
    """A valid organisationsnummer: the Luhn check digit appended to nine digits."""
    total = 0
    for i, ch in enumerate(first_nine):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"{first_nine[:6]}-{first_nine[6:]}{(10 - total % 10) % 10}"


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """Text with all whitespace runs as single spaces, for phrases that wrap across lines."""
    return " ".join(text.split())


@pytest.fixture
def iop_data():
    return load_example("iop-skane-2021.json")


@pytest.fixture
def halland_data():
    return load_example("overenskommelse-halland.json")


@pytest.fixture(scope="session")
def office(tmp_path_factory):
    """One warm LibreOffice for the whole run, as the service keeps it."""
    pool = OfficePool(tmp_path_factory.mktemp("office"), size=1, timeout=60)
    pool.start()
    yield pool
    pool.stop()


@pytest.fixture
def app(tmp_path, office, monkeypatch):
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True}, office=office)
    migrations.upgrade(app.extensions["db"])
    return app


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
