"""flask backup / restore: a signed agreement survives into an empty instance intact."""

import itertools
import json
import re
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import inspect
from werkzeug.serving import make_server

from service import create_app

from .helpers import ON_POSTGRES, bearer, complete_iop, confirm, create_and_send, final_pdf, path_of

_names = itertools.count(1)


@pytest.fixture
def empty_database_url(request, tmp_path):
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored' / 'avtal.sqlite3'}"
        return
    server = request.getfixturevalue("postgres")
    name = f"restored{next(_names)}"
    server.create_database(name)
    yield server.url(name)
    server.drop_database(name)


@pytest.mark.slow
@pytest.mark.parametrize("files_in", ["folder", pytest.param("bucket", marks=pytest.mark.s3)])
def test_restore_into_an_empty_instance_keeps_the_chain_and_every_file(
    app, client, runner, api_token, iop_data, run_jobs, tmp_path, monkeypatch, empty_database_url, files_in
):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    original = final_pdf(app, client, api_token, agreement_id)
    stored = sorted(app.extensions["files"].digests())

    result = runner.invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    assert f"databasen, {len(stored)} filer och nycklarna" in result.output

    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "restored"))
    monkeypatch.setenv("AVTAL_DATABASE_URL", empty_database_url)
    if files_in == "bucket":
        monkeypatch.setenv("AVTAL_STORAGE_URL", f"s3://avtal/{tmp_path.name}-restored")
    restored = create_app({"TESTING": True}, office=app.extensions["office"])
    restored_runner = restored.test_cli_runner()
    result = restored_runner.invoke(args=["restore", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    try:
        verified = restored_runner.invoke(args=["audit", "verify"])
        assert verified.exit_code == 0 and re.search(r"Granskningsloggen är hel \(\d+ händelser\)", verified.output)
        assert sorted(restored.extensions["files"].digests()) == stored
        for digest in stored:
            assert restored.extensions["files"].get(digest) == app.extensions["files"].get(digest)
        download = restored.test_client().get(f"/api/agreements/{agreement_id}/final.pdf", headers=bearer(api_token))
        assert download.status_code == 200 and download.data == original

        again = restored_runner.invoke(args=["restore", str(tmp_path / "backup")])
        assert again.exit_code == 1 and "Databasen är inte tom" in again.output
    finally:
        restored.extensions["jobs"].close()
        restored.extensions["db"].engine.dispose()


def restored_tables(app) -> list[str]:
    """The service's tables in the app's database (on PostgreSQL the job queue's are there too)."""
    return [t for t in inspect(app.extensions["db"].engine).get_table_names() if not t.startswith("huey_")]


def serve(app):
    """`app` on a port of its own; returns (base URL, stop)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join()

    return f"http://127.0.0.1:{server.server_port}", stop


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
@pytest.mark.parametrize("passphrase", ["", "en lång lösenfras för nycklarna"], ids=["plain", "encrypted"])
def test_a_restored_instance_carries_on_with_the_old_keys(
    app, client, runner, api_token, iop_data, run_jobs, tmp_path, monkeypatch, passphrase, empty_database_url
):
    """Restored into an empty instance on a second port: the seal is still the service's, the
    outstanding signing link opens, and the API token works."""
    agreement_id = complete_iop(app, client, api_token, iop_data)
    final = final_pdf(app, client, api_token, agreement_id)
    _, links = create_and_send(client, api_token, iop_data)  # still waiting for both parties
    monkeypatch.setenv("AVTAL_BACKUP_PASSPHRASE", passphrase)
    app.config["BACKUP_PASSPHRASE"] = passphrase
    result = runner.invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    backup_files = [p for p in (tmp_path / "backup").rglob("*")]
    assert {oct(p.stat().st_mode & 0o777) for p in backup_files if p.is_file()} == {"0o600"}
    assert {oct(p.stat().st_mode & 0o777) for p in [tmp_path / "backup", *backup_files] if p.is_dir()} == {"0o700"}
    keys = (tmp_path / "backup" / "keys.json").read_text()
    assert (app.config["SECRET_KEY"] in keys) is not bool(passphrase)  # encrypted when a passphrase is set

    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "restored"))
    monkeypatch.setenv("AVTAL_DATABASE_URL", empty_database_url)
    empty = create_app({"TESTING": True}, office=app.extensions["office"])
    result = empty.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    empty.extensions["jobs"].close()
    assert result.exit_code == 0, result.output

    restored = create_app({"TESTING": True}, office=app.extensions["office"])  # started again, as the CLI says
    base, stop = serve(restored)
    try:
        pdf = tmp_path / "slutlig.pdf"
        pdf.write_bytes(final)
        verified = restored.test_cli_runner().invoke(args=["verify", str(pdf)])
        assert verified.exit_code == 0 and verified.output.startswith("Äkta: Slutlig PDF nr 1"), verified.output
        status, page = get(base + path_of(links[0]["url"]))
        assert status == 200 and "bekräfta" in page.lower()
        status, body = get(f"{base}/api/agreements/{agreement_id}", headers=bearer(api_token))
        assert status == 200 and json.loads(body)["id"] == agreement_id
    finally:
        stop()
        restored.extensions["jobs"].close()
        restored.extensions["db"].engine.dispose()


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(
    app, runner, tmp_path, monkeypatch, empty_database_url
):
    assert runner.invoke(args=["backup", str(tmp_path / "backup")]).exit_code == 0
    (database,) = (tmp_path / "backup").glob("database.*")  # SQLite's file or pg_dump's
    changed = bytearray(database.read_bytes())
    changed[-1] ^= 0x01
    database.write_bytes(bytes(changed))

    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "restored"))
    monkeypatch.setenv("AVTAL_DATABASE_URL", empty_database_url)
    empty = create_app({"TESTING": True}, office=app.extensions["office"])
    key_before = (tmp_path / "restored" / "secret_key").read_bytes()
    try:
        result = empty.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert result.exit_code == 1 and "stämmer inte med manifestets SHA-256" in result.output
        assert restored_tables(empty) == []  # nothing restored
        assert (tmp_path / "restored" / "secret_key").read_bytes() == key_before
    finally:
        empty.extensions["jobs"].close()
        empty.extensions["db"].engine.dispose()


def test_encrypted_keys_need_the_passphrase(app, runner, tmp_path, monkeypatch, empty_database_url):
    app.config["BACKUP_PASSPHRASE"] = "rätt lösenfras"
    assert runner.invoke(args=["backup", str(tmp_path / "backup")]).exit_code == 0
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "restored"))
    monkeypatch.setenv("AVTAL_DATABASE_URL", empty_database_url)
    for passphrase, message in (("", "AVTAL_BACKUP_PASSPHRASE"), ("fel lösenfras", "Fel lösenfras")):
        monkeypatch.setenv("AVTAL_BACKUP_PASSPHRASE", passphrase)
        empty = create_app({"TESTING": True}, office=app.extensions["office"])
        try:
            result = empty.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
            assert result.exit_code == 1 and message in result.output
            assert restored_tables(empty) == []
        finally:
            empty.extensions["jobs"].close()
            empty.extensions["db"].engine.dispose()
