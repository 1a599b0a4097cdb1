"""Settings: embedded defaults, overridden by AVTAL_* environment variables."""

import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


def private_folder(path) -> None:
    """A folder only the service's own user may enter: the instance folder holds personal data."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def private_file(path) -> None:
    """Create `path` if missing, readable and writable by the service's user alone
    (SQLite gives its -wal and -shm files the database file's permissions)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


class ConfigError(Exception):
    """A setting that cannot work; the message names it and the service does not start."""


@contextmanager
def naming(setting):
    """Any failure to set up from `setting` becomes a ConfigError that names it."""
    try:
        yield
    except Exception as exc:
        raise ConfigError(f"{setting}: {type(exc).__name__}: {exc}") from exc


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite database URL, None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" and parsed.database else None


def instance_file(instance_path: Path, name: str, make) -> bytes:
    """The instance's file `name`, made by `make()` the first time. Written whole and linked
    into place, so workers starting together all read the one written first."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=f".{name}-")
        with os.fdopen(fd, "wb") as f:
            f.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


SECRET_KEY_FILE = "secret_key"


def _secret_key(instance_path: Path) -> str:
    """A key kept in instance/, made once, so links and sessions survive restarts."""
    return instance_file(instance_path, SECRET_KEY_FILE, lambda: secrets.token_hex(32).encode()).decode().strip()


# A diarienummer as most regions write it: a series of capitals, the year, a number (RS 2020/2741).
DNR_PATTERN = r"(?:[A-ZÅÄÖ]{1,10}[ -]?)?\d{4}[/-]\d{1,6}"
DNR_EXAMPLE = "RS 2020/2741"


def dnr_rule() -> tuple[str, str]:
    """The form a diarienummer must have before sending (a regular expression, matched whole) and
    an example for the message. Read when an agreement is validated, as the schema knows no app."""
    return os.environ.get("AVTAL_DNR_PATTERN", DNR_PATTERN), os.environ.get("AVTAL_DNR_EXAMPLE", DNR_EXAMPLE)


def load(instance_path: str) -> dict:
    instance = Path(instance_path)
    env = os.environ.get
    return {
        "SECRET_KEY": env("AVTAL_SECRET_KEY") or _secret_key(instance),
        "DATABASE_URL": env("AVTAL_DATABASE_URL", f"sqlite:///{instance / 'avtal.sqlite3'}"),
        "STORAGE_DIR": env("AVTAL_STORAGE_DIR", str(instance / "files")),
        "STORAGE_URL": env("AVTAL_STORAGE_URL", ""),
        "METRICS_BIND": env("AVTAL_METRICS_BIND", ""),
        "LOG_FORMAT": env("AVTAL_LOG_FORMAT", "json"),
        "OFFICE_DIR": env("AVTAL_OFFICE_DIR", str(instance / "office")),
        "OFFICE_POOL_SIZE": int(env("AVTAL_OFFICE_POOL_SIZE", "1")),
        "CONVERT_TIMEOUT": float(env("AVTAL_CONVERT_TIMEOUT", "60")),
        "OFFICE_HOSTS": [a.strip() for a in env("AVTAL_OFFICE_HOSTS", "").split(",") if a.strip()],
        "PREVIEW_DIR": env("AVTAL_PREVIEW_DIR", str(instance / "previews")),  # a bounded cache, not records
        "PREVIEW_SLOTS": int(env("AVTAL_PREVIEW_SLOTS", "2")),  # previews rendering at once, per process
        "OFFICE_MEMORY_MB": int(env("AVTAL_OFFICE_MEMORY_MB", "2048")),  # address space per LibreOffice
        "JOBS_PATH": env("AVTAL_JOBS_PATH", str(instance / "jobs.sqlite3")),
        "WEB_RUNS_JOBS": env("AVTAL_WEB_RUNS_JOBS", "1") != "0",
        "LINK_MAX_AGE_DAYS": int(env("AVTAL_LINK_MAX_AGE_DAYS", "30")),
        "REMINDER_DAYS_BEFORE": int(env("AVTAL_REMINDER_DAYS_BEFORE", "5")),
        # registraturen: every final PDF goes here too, diarienummer in the subject ("" for none)
        "REGISTRY_EMAIL": env("AVTAL_REGISTRY_EMAIL", ""),
        # a final PDF up to this size rides along in the officials' email; a larger one is linked
        "MAIL_ATTACH_MAX_BYTES": int(env("AVTAL_MAIL_ATTACH_MAX_BYTES", str(10 * 1024 * 1024))),
        # Every absolute link (emails, the links page, the API) is built on this, never on
        # the Host header; scripts/serve --production requires it, the default is the bind address.
        "PUBLIC_URL": env("AVTAL_PUBLIC_URL") or f"http://{env('AVTAL_BIND', '127.0.0.1:5000')}",
        "SMTP_HOST": env("AVTAL_SMTP_HOST", ""),
        "SMTP_PORT": int(env("AVTAL_SMTP_PORT", "25")),
        "MAIL_FROM": env("AVTAL_MAIL_FROM", "avtal@localhost"),
        # How many proxies (load balancers) in front of the service to trust for X-Forwarded-For
        # and -Proto: the client's address is what throttles, rate limits and evidence record
        "TRUSTED_PROXIES": int(env("AVTAL_TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_SECURE": env("AVTAL_SECURE_COOKIES", "") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The party's pages send no Referer (the token is in the URL), which Flask-WTF's
        # HTTPS referrer check would refuse; the session-bound CSRF token still guards them.
        "WTF_CSRF_SSL_STRICT": False,
        "WTF_CSRF_TIME_LIMIT": None,  # a token lasts as long as the session: long drafts
        "SEAL_P12": env("AVTAL_SEAL_P12", ""),
        # `flask backup` encrypts the keys it copies (secret key, seal) with this passphrase
        "BACKUP_PASSPHRASE": env("AVTAL_BACKUP_PASSPHRASE", ""),
        "SEAL_PASSWORD": env("AVTAL_SEAL_PASSWORD", ""),
        "SEAL_ORGANISATION": env("AVTAL_SEAL_ORGANISATION", "Avtalstjänsten"),
        "TSA_URL": env("AVTAL_TSA_URL", ""),
        # Huey's consumer polls an idle queue ever more slowly, up to this (its own default: 10 s)
        "JOBS_POLL_MAX_SECONDS": float(env("AVTAL_JOBS_POLL_MAX_SECONDS", "1")),
        # webhooks: 13 attempts, the first retry after 30 s, doubling: tried for 34 hours
        "WEBHOOK_ATTEMPTS": int(env("AVTAL_WEBHOOK_ATTEMPTS", "13")),
        "WEBHOOK_FIRST_RETRY": float(env("AVTAL_WEBHOOK_FIRST_RETRY", "30")),
        "WEBHOOK_TIMEOUT": float(env("AVTAL_WEBHOOK_TIMEOUT", "10")),
        "WEBHOOK_SECRET_OVERLAP_HOURS": float(env("AVTAL_WEBHOOK_SECRET_OVERLAP_HOURS", "24")),
        "MAX_CONTENT_LENGTH": int(env("AVTAL_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
        # The e-archive's submission agreement (leveransöverenskommelse), named in each package's METS header.
        "SUBMISSION_AGREEMENT": env("AVTAL_SUBMISSION_AGREEMENT", ""),
        # The personal-data notice: who is responsible and whom to ask (GDPR art. 13).
        "CONTROLLER": env("AVTAL_CONTROLLER", "Regionen som driver tjänsten"),
        "CONTROLLER_CONTACT": env("AVTAL_CONTROLLER_CONTACT", ""),
        "DPO_CONTACT": env("AVTAL_DPO_CONTACT", ""),
        "ACCESSIBILITY_CONTACT": env("AVTAL_ACCESSIBILITY_CONTACT", ""),
        # Retention (gallring) of what is not a record, in days.
        "DRAFT_RETENTION_DAYS": int(env("AVTAL_DRAFT_RETENTION_DAYS", "730")),
        "PREVIEW_RETENTION_DAYS": int(env("AVTAL_PREVIEW_RETENTION_DAYS", "30")),
        "IDEMPOTENCY_RETENTION_DAYS": int(env("AVTAL_IDEMPOTENCY_RETENTION_DAYS", "7")),
    }
