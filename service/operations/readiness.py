"""Is every part this host needs reachable? For /readyz, and at start, where a wrong
setting stops the service with a message naming it rather than letting it half-work."""

from sqlalchemy import text

from ..config import ConfigError
from ..documents.convert import OfficeHosts
from ..storage import StorageError


def _database(app):
    with app.extensions["db"].engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _queue(app):
    app.extensions["jobs"].pending()


def _storage(app):
    app.extensions["files"].check()


def _office(app, all_hosts):
    office = app.extensions["office"]
    if isinstance(office, OfficeHosts):
        down = office.unreachable()
        if down and (all_hosts or len(down) == len(office.hosts)):
            raise ConnectionError("svarar inte: " + ", ".join(down))


def _setting(app, part):
    if part == "storage":
        return "AVTAL_STORAGE_URL" if app.config["STORAGE_URL"] else "AVTAL_STORAGE_DIR"
    return {"database": "AVTAL_DATABASE_URL", "queue": "AVTAL_DATABASE_URL", "office": "AVTAL_OFFICE_HOSTS"}[part]


def problems(app, all_office_hosts=False) -> dict[str, str]:
    """part -> what is wrong, for every part that is not reachable ({} when ready).
    Ready needs one LibreOffice host; at start every host named must answer."""
    checks = {
        "database": lambda: _database(app),
        "queue": lambda: _queue(app),
        "storage": lambda: _storage(app),
        "office": lambda: _office(app, all_office_hosts),
    }
    found = {}
    for part, check in checks.items():
        try:
            check()
        except StorageError as exc:
            found[part] = exc.message
        except Exception as exc:  # any failure to reach a part is the answer here
            found[part] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return found


def check_at_start(app):
    """Raise ConfigError naming each setting whose part cannot be reached."""
    found = problems(app, all_office_hosts=True)
    if found:
        lines = [f"{_setting(app, part)}: {message}" for part, message in found.items()]
        raise ConfigError("Tjänsten startar inte, inställningarna fungerar inte:\n  " + "\n  ".join(lines))
