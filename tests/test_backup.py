"""flask backup / restore: a signed agreement survives into an empty instance intact."""

import itertools
import re

import pytest

from service import create_app

from .helpers import ON_POSTGRES, bearer, confirm, create_and_send, final_pdf

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
    assert f"databasen och {len(stored)} filer" in result.output

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
