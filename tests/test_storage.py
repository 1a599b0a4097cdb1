import hashlib
import os
import stat
from pathlib import Path

import pytest

from service.storage import FileStore, ObjectStore, StorageError

from .helpers import confirm, create_and_send, final_pdf, flat, free_port, pdf_text


def test_file_is_stored_once_under_its_sha256(tmp_path):
    store = FileStore(tmp_path)
    digest = store.put(b"avtal")
    assert digest == hashlib.sha256(b"avtal").hexdigest()
    assert store.get(digest) == b"avtal"
    assert store.put(b"avtal") == digest
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


def test_stored_file_is_read_only(tmp_path):
    store = FileStore(tmp_path)
    path = store.path_for(store.put(b"avtal"))
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0


def test_names_that_are_not_digests_never_become_paths(tmp_path):
    store = FileStore(tmp_path)
    for name in ("../../etc/passwd", "a" * 63, "A" * 64, "/" + "a" * 63):
        with pytest.raises(KeyError):
            store.path_for(name)
        assert not store.exists(name)


def test_unwritable_storage_gives_a_swedish_error(tmp_path):
    blocker = tmp_path / "files"
    blocker.write_text("not a directory")  # unwritable even for root
    store = FileStore(blocker)
    with pytest.raises(StorageError) as info:
        store.put(b"avtal")
    assert "kunde inte sparas" in info.value.message


def test_a_file_changed_on_disk_is_refused_when_read(tmp_path):
    store = FileStore(tmp_path)
    digest = store.put(b"avtal")
    path = store.path_for(digest)
    path.chmod(0o600)
    path.write_bytes(b"avtat")
    with pytest.raises(StorageError) as info:
        store.get(digest)
    assert info.value.message == "Den lagrade filen stämmer inte med sin kontrollsumma (SHA-256)."


# --- object storage (a real SeaweedFS on loopback) ---


@pytest.fixture
def bucket(object_store, monkeypatch, request):
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    return ObjectStore(f"s3://avtal/{request.node.name}")


def test_object_store_keeps_each_file_once_under_its_sha256(bucket, object_store):
    digest = bucket.put(b"avtal")
    assert digest == hashlib.sha256(b"avtal").hexdigest()
    assert bucket.put(b"avtal") == digest
    assert bucket.get(digest) == b"avtal" and bucket.exists(digest)
    listed = object_store.client().list_objects_v2(Bucket="avtal", Prefix=bucket.prefix + "/")["Contents"]
    assert [o["Key"] for o in listed] == [f"{bucket.prefix}/{digest[:2]}/{digest}"]


def test_object_store_never_overwrites_and_checks_what_it_reads(bucket, object_store):
    digest = hashlib.sha256(b"avtal").hexdigest()
    key = bucket.key_for(digest)
    object_store.client().put_object(Bucket="avtal", Key=key, Body=b"planted")  # someone else's write
    assert bucket.put(b"avtal") == digest  # the conditional put leaves the object alone
    stored = object_store.client().get_object(Bucket="avtal", Key=key)["Body"].read()
    assert stored == b"planted"
    with pytest.raises(StorageError) as info:
        bucket.get(digest)
    assert info.value.message == "Den lagrade filen stämmer inte med sin kontrollsumma (SHA-256)."


def test_object_store_missing_file_and_bad_names(bucket):
    assert not bucket.exists("a" * 64)
    with pytest.raises(FileNotFoundError):
        bucket.get("a" * 64)
    for name in ("../x", "A" * 64):
        with pytest.raises(KeyError):
            bucket.key_for(name)


def test_object_store_unreachable_or_wrong_key_gives_a_swedish_error(object_store, monkeypatch):
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(StorageError) as info:
        ObjectStore("s3://avtal/x").put(b"avtal")
    assert "kunde inte sparas" in info.value.message
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = ObjectStore("s3://avtal/x")
    with pytest.raises(StorageError):
        store.check()


@pytest.mark.slow
@pytest.mark.s3
def test_an_agreement_signed_with_its_files_in_object_storage(app, client, api_token, iop_data, run_jobs):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    pdf = final_pdf(app, client, api_token, agreement_id)
    assert "Kristianstad" in flat(pdf_text(pdf))
    store = app.extensions["files"]
    assert isinstance(store, ObjectStore)
    assert store.exists(hashlib.sha256(pdf).hexdigest())
    assert not (Path(app.instance_path) / "files").exists()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_instance_folder_and_files_are_private(app, client, api_token, iop_data):
    create_and_send(client, api_token, iop_data)
    instance = app.instance_path
    assert mode(instance) == 0o700
    assert mode(os.path.join(instance, "avtal.sqlite3")) == 0o600
    assert mode(os.path.join(instance, "jobs.sqlite3")) == 0o600
    assert mode(os.path.join(instance, "secret_key")) == 0o600
    stored = [os.path.join(root, name) for root, _, names in os.walk(app.config["STORAGE_DIR"]) for name in names]
    assert stored and {mode(path) for path in stored} == {0o400}
    folders = [root for root, _, _ in os.walk(app.config["STORAGE_DIR"])]
    assert {mode(folder) for folder in folders} == {0o700}
