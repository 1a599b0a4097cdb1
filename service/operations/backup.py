"""Backup and restore: the database (SQLite's online backup API, or pg_dump), every
stored file, and the keys that keep old links, sessions, API tokens and seals valid (the
secret key and the seal's PKCS#12), with a manifest of their SHA-256.

The database is copied first and the files listed after it: a file is always stored
before the row that names it commits, so every file the copied rows name is in the
backup. The job queue is left out: the sweep re-creates what a restored database lacks.
Everything in a backup is readable by its owner alone; the keys are encrypted when
AVTAL_BACKUP_PASSPHRASE is set.
"""

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .. import migrate as migrations
from ..config import SECRET_KEY_FILE, private_folder
from ..documents.seal import DEFAULT_P12
from ..errors import BackupError
from ..models import Base, utcnow
from ..storage import sha256_hex

MANIFEST = "manifest.json"
KEYS = "keys.json"


def _pg_tool(name) -> str:
    found = shutil.which(name) or sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise BackupError(f"{name} saknas: installera PostgreSQL-klienten (Debian: postgresql-client).")
    return str(found[-1] if isinstance(found, list) else found)


def _dsn(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` readable and writable by its owner alone, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _fernet(passphrase: str, salt: bytes) -> Fernet:
    key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _seal_p12(app) -> bytes:
    configured = app.config["SEAL_P12"]
    return Path(configured or Path(app.instance_path) / DEFAULT_P12).read_bytes()


def _keys_file(app, passphrase: str) -> bytes:
    """The secret key and the seal's PKCS#12, as JSON; encrypted with `passphrase` if given."""
    keys = json.dumps(
        {"secret_key": app.config["SECRET_KEY"], "seal_p12": base64.b64encode(_seal_p12(app)).decode()}
    ).encode()
    if not passphrase:
        return keys
    salt = os.urandom(16)
    sealed = _fernet(passphrase, salt).encrypt(keys)
    return json.dumps({"scrypt_salt": base64.b64encode(salt).decode(), "fernet": sealed.decode()}).encode()


def _open_keys(data: bytes, passphrase: str) -> dict:
    keys = json.loads(data)
    if "fernet" not in keys:
        return keys
    if not passphrase:
        raise BackupError("Nycklarna i säkerhetskopian är krypterade: ange lösenfrasen i AVTAL_BACKUP_PASSPHRASE.")
    try:
        opened = _fernet(passphrase, base64.b64decode(keys["scrypt_salt"])).decrypt(keys["fernet"].encode())
    except InvalidToken:
        raise BackupError("Fel lösenfras: nycklarna i säkerhetskopian kunde inte dekrypteras.") from None
    return json.loads(opened)


def backup(app, folder) -> dict:
    """Write the database, every stored file and the keys into `folder` (new or empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"Mappen {folder} är inte tom.")
    private_folder(folder)
    private_folder(folder / "files")
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        database = "database.sqlite3"
        write_private(folder / database, b"")
        with sqlite3.connect(str(url.database)) as source, sqlite3.connect(folder / database) as target:
            source.backup(target)
    else:
        database = "database.pgdump"
        write_private(folder / database, b"")
        command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--exclude-table=huey_*"]
        subprocess.run([*command, f"--file={folder / database}", f"--dbname={_dsn(url)}"], check=True)
    files = app.extensions["files"]
    listed = {}
    for digest in files.digests():
        data = files.get(digest)  # checked against its SHA-256 on the way
        write_private(folder / "files" / digest, data)
        listed[digest] = len(data)
    passphrase = app.config["BACKUP_PASSPHRASE"]
    keys = _keys_file(app, passphrase)
    write_private(folder / KEYS, keys)
    manifest = {
        "created_at": utcnow().isoformat(),
        "database": database,
        "database_sha256": sha256_hex((folder / database).read_bytes()),
        "keys_sha256": sha256_hex(keys),
        "keys_encrypted": bool(passphrase),
        "files": listed,
    }
    write_private(folder / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _ours(engine) -> list[str]:
    return sorted(set(inspect(engine).get_table_names()) & set(Base.metadata.tables))


def _checked(folder: Path, name: str, sha256: str) -> bytes:
    try:
        data = (folder / name).read_bytes()
    except OSError:
        raise BackupError(f"{name} saknas i säkerhetskopian.") from None
    if sha256_hex(data) != sha256:
        raise BackupError(f"{name} i säkerhetskopian stämmer inte med manifestets SHA-256.")
    return data


def _checked_manifest(folder: Path) -> dict:
    """The manifest, after every file it names has been checked against its SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        names = [manifest["database"], KEYS, *(f"files/{d}" for d in manifest["files"])]
        hashes = [manifest["database_sha256"], manifest["keys_sha256"], *manifest["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{folder} innehåller ingen läsbar säkerhetskopia ({MANIFEST}).") from exc
    if manifest["database"] not in ("database.sqlite3", "database.pgdump"):
        raise BackupError(f"{MANIFEST} i {folder} namnger ingen databas.")
    for name, sha256 in zip(names, hashes, strict=True):
        _checked(folder, name, sha256)
    on_disk = {p.name for p in (folder / "files").iterdir()}
    if on_disk != set(manifest["files"]):
        raise BackupError("Filerna i säkerhetskopian stämmer inte med manifestet.")
    return manifest


def restore(app, folder) -> dict:
    """Fill an empty instance from a backup: the database, the files, and the keys into the
    instance folder. Refuses a database that already has tables and a backup that does not
    match its manifest, before anything is written."""
    folder = Path(folder)
    manifest = _checked_manifest(folder)
    keys = _open_keys((folder / KEYS).read_bytes(), app.config["BACKUP_PASSPHRASE"])
    db = app.extensions["db"]
    if _ours(db.engine):
        raise BackupError("Databasen är inte tom: återställ bara till en ny, tom databas.")
    url = make_url(app.config["DATABASE_URL"])
    source = folder / manifest["database"]
    if url.get_backend_name() == "sqlite":
        db.engine.dispose()
        with sqlite3.connect(source) as backup_db, sqlite3.connect(str(url.database)) as target:
            backup_db.backup(target)
    else:
        command = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={_dsn(url)}", str(source)]
        subprocess.run(command, check=True)
    files = app.extensions["files"]
    for digest in manifest["files"]:
        files.put((folder / "files" / digest).read_bytes())
    _restore_keys(Path(app.instance_path), keys)
    migrations.upgrade(db)  # a backup from an older release
    return manifest


def _restore_keys(instance: Path, keys: dict) -> None:
    """Replace the new instance's own keys (made at its first start, used for nothing yet)."""
    restored = {SECRET_KEY_FILE: keys["secret_key"].encode(), DEFAULT_P12: base64.b64decode(keys["seal_p12"])}
    for name, data in restored.items():
        tmp = instance / f".{name}-restored"
        write_private(tmp, data)
        os.replace(tmp, instance / name)
