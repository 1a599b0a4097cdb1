import hashlib
import os

import pytest

from service.storage import FileStore, StorageError


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
