"""Backup and restore: the database (SQLite's online backup API, or pg_dump) and every
stored file with a manifest of their SHA-256.

The database is copied first and the files listed after it: a file is always stored
before the row that names it commits, so every file the copied rows name is in the
backup. The job queue is left out: the sweep re-creates what a restored database lacks.
"""

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from . import migrate as migrations
from .errors import BackupError
from .models import Base, utcnow
from .storage import sha256_hex

MANIFEST = "manifest.json"


def _pg_tool(name) -> str:
    found = shutil.which(name) or sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise BackupError(f"{name} saknas: installera PostgreSQL-klienten (Debian: postgresql-client).")
    return str(found[-1] if isinstance(found, list) else found)


def _dsn(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup(app, folder) -> dict:
    """Write the database and every stored file into `folder` (new or empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"Mappen {folder} är inte tom.")
    (folder / "files").mkdir(parents=True)
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        database = "database.sqlite3"
        with sqlite3.connect(str(url.database)) as source, sqlite3.connect(folder / database) as target:
            source.backup(target)
    else:
        database = "database.pgdump"
        command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--exclude-table=huey_*"]
        subprocess.run([*command, f"--file={folder / database}", f"--dbname={_dsn(url)}"], check=True)
    files = app.extensions["files"]
    listed = {}
    for digest in files.digests():
        data = files.get(digest)  # checked against its SHA-256 on the way
        (folder / "files" / digest).write_bytes(data)
        listed[digest] = len(data)
    manifest = {"created_at": utcnow().isoformat(), "database": database, "files": listed}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _ours(engine) -> list[str]:
    return sorted(set(inspect(engine).get_table_names()) & set(Base.metadata.tables))


def restore(app, folder) -> dict:
    """Fill an empty instance from a backup; refuses a database that already has tables."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} innehåller ingen läsbar säkerhetskopia ({MANIFEST}).") from exc
    for digest in manifest["files"]:
        if sha256_hex((folder / "files" / digest).read_bytes()) != digest:
            raise BackupError(f"Filen {digest} i säkerhetskopian stämmer inte med sin SHA-256.")
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
    migrations.upgrade(db)  # a backup from an older release
    return manifest
