"""Command-line entry points: `flask --app service <command>`."""

import json
import os
import sys
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import audit, retention, roles, users, webhooks
from . import migrate as migrations
from .config import ConfigError
from .documents import render_agreement_pdf
from .errors import InvalidInput, Unavailable
from .formatting import local_minute
from .operations import backup as backups
from .operations import logs, metrics, readiness
from .records import archive_package, verification
from .schema import SchemaError, validate_agreement


def _fail(message):
    click.echo(f"Fel: {message}", err=True)
    sys.exit(1)


@click.command("migrate")
@with_appcontext
def migrate_command():
    """Create or upgrade the database to the newest schema."""
    migrations.upgrade(current_app.extensions["db"])
    click.echo("Databasen är uppdaterad.")


@click.command("render")
@with_appcontext
@click.argument("input_file", type=click.File("rb"))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, writable=True))
def render_command(input_file, output):
    """Render INPUT_FILE (agreement JSON) to a PDF at OUTPUT: PDF/A-2b, tagged, titled, as the service freezes it."""
    try:
        data = json.loads(input_file.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"Filen är inte giltig JSON ({exc}).")
    try:
        agreement = validate_agreement(data)
    except SchemaError as exc:
        _fail("\n".join(exc.errors.values()))
    app = current_app
    try:
        pdf, digest = render_agreement_pdf(agreement, app.extensions["office"], app.extensions["files"], pdfa=True)
    except Unavailable as exc:
        _fail(exc.message)
    with open(output, "wb") as f:
        f.write(pdf)
    click.echo(f"Skrev {output} ({len(pdf)} byte, SHA-256 {digest}).")


@click.command("worker")
@with_appcontext
@click.option("--threads", default=2, show_default=True, help="Jobs run at once.")
def worker_command(threads):
    """Run the background jobs (final PDFs, reminders) until stopped; web hosts then need none."""
    app = current_app._get_current_object()
    try:
        readiness.check_at_start(app)
    except ConfigError as exc:
        _fail(str(exc))
    logs.configure(app)
    metrics.serve(app)
    app.extensions["office"].start_in_background()
    app.extensions["jobs"].run_worker(threads)


@click.command("backup")
@with_appcontext
@click.argument("folder", type=click.Path(file_okay=False))
def backup_command(folder):
    """Copy the database, every stored file and the keys (with a SHA-256 manifest) into FOLDER."""
    try:
        manifest = backups.backup(current_app, folder)
    except backups.BackupError as exc:
        _fail(exc.message)
    click.echo(f"Säkerhetskopian i {folder} har databasen, {len(manifest['files'])} filer och nycklarna.")
    if not manifest["keys_encrypted"]:
        click.echo(
            "Obs: nycklarna (sigillet och den hemliga nyckeln) är okrypterade; ange AVTAL_BACKUP_PASSPHRASE "
            "för att kryptera dem, och förvara säkerhetskopian skyddad."
        )


@click.command("restore")
@with_appcontext
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def restore_command(folder):
    """Fill this empty instance from a backup in FOLDER; then run `audit verify`."""
    try:
        manifest = backups.restore(current_app, folder)
    except backups.BackupError as exc:
        _fail(exc.message)
    click.echo(f"Återställde databasen, {len(manifest['files'])} filer och nycklarna från {folder}.")
    click.echo("Starta om tjänsten så att den använder de återställda nycklarna.")
    for setting in ("AVTAL_SECRET_KEY", "AVTAL_SEAL_P12"):
        if os.environ.get(setting):
            click.echo(f"Obs: {setting} är satt och går före den återställda nyckeln i {current_app.instance_path}.")


users_group = AppGroup("users", help="Manage user accounts.")


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(roles.ROLES))
@click.option("--password", help="Generated and printed if not given.")
def create_user_command(email, role, password):
    """Create a user and print a new API token for it."""
    generated = password is None
    password = password or users.generate_password()
    try:
        with current_app.extensions["db"].session() as db:
            user = users.create_user(db, email, role, password)
            token = users.issue_api_token(db, user)
    except users.UserError as exc:
        _fail(exc.message)
    click.echo(f"Skapade {user.email} ({roles.ROLE_NAMES[role]}).")
    if generated:
        click.echo(f"Lösenord: {password}")
    click.echo(f"API-nyckel (visas bara nu): {token}")


@users_group.command("password")
@click.option("--email", required=True)
@click.option("--password", help="Generated and printed if not given.")
def set_password_command(email, password):
    """Set a user's password; every session the user has ends."""
    generated = password is None
    password = password or users.generate_password()
    try:
        with current_app.extensions["db"].session() as db:
            user = users.user_by_email(db, email)
            if user is None:
                raise users.UserError(f"Det finns ingen användare med e-postadressen {email}.")
            users.set_password(db, user, password)
    except users.UserError as exc:
        _fail(exc.message)
    click.echo(f"Nytt lösenord för {user.email}; alla inloggningar är avslutade.")
    if generated:
        click.echo(f"Lösenord: {password}")


@users_group.command("demo")
@click.option(
    "--show-passwords/--hide-passwords",
    default=None,
    help="Print the passwords (default: only when the output is a terminal, never into a log).",
)
def demo_users_command(show_passwords):
    """Create a demo official, archivist and admin, only while there are no users at all."""
    demo = [
        ("handlaggare@example.se", "official"),
        ("arkivarie@example.se", "archivist"),
        ("admin@example.se", "admin"),
    ]
    with current_app.extensions["db"].session() as db:
        if users.has_users(db):
            click.echo("Det finns redan användare; inga demoanvändare skapades.")
            return
        created = []
        for email, role in demo:
            password = users.generate_password()
            users.create_user(db, email, role, password)
            created.append((email, role, password))
    if show_passwords is None:
        show_passwords = sys.stdout.isatty()
    click.echo("Demoanvändare för att prova tjänsten:")
    for email, role, password in created:
        click.echo(f"  {email} ({roles.ROLE_NAMES[role]})" + (f"  lösenord: {password}" if show_passwords else ""))
    if not show_passwords:
        click.echo("Lösenorden visas bara i en terminal. Sätt ett nytt med flask users password --email ADRESS.")


audit_group = AppGroup("audit", help="The audit trail.")


@audit_group.command("verify")
def verify_audit_command():
    """Check the whole hash chain; name the first broken event."""
    with current_app.extensions["db"].session() as session:
        broken = audit.verify_chain(session)
        count = audit.count(session)
    if broken:
        event_id, reason = broken
        _fail(f"Granskningsloggen är bruten vid händelse {event_id}: {reason}.")
    click.echo(f"Granskningsloggen är hel ({count} händelser).")


webhooks_group = AppGroup("webhooks", help="Signed webhooks to other systems.")


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    multiple=True,
    help=f"Comma-separated event types: {', '.join(webhooks.TYPE_LABELS)}.",
)
def add_webhook_command(url, events):
    """Register URL for signed events and print its secret (shown only now)."""
    chosen = [e.strip() for group in events for e in group.split(",") if e.strip()]
    try:
        with current_app.extensions["db"].session() as session:
            endpoint, secret = webhooks.add_endpoint(session, url, chosen, audit.Actor("cli"))
    except InvalidInput as exc:
        _fail(exc.message)
    click.echo(f"Webhook {endpoint.id} skickar {', '.join(endpoint.events)} till {endpoint.url}.")
    click.echo(f"Hemlighet (visas bara nu): {secret}")


@click.command("verify")
@with_appcontext
@click.argument("pdf_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The whole result as JSON.")
def verify_command(pdf_file, as_json):
    """Check a PDF's seal and whether this service issued it; exit 0 only if intact, covering and known."""
    try:
        data = pdf_file.read_bytes()
    except OSError:
        _fail(f"Filen {pdf_file} kunde inte läsas.")
    with current_app.extensions["db"].session() as session:
        result = verification.verify_pdf(session, current_app.extensions["seal"], data)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    elif not result.ok:
        click.echo(result.summary())
    else:
        click.echo(result.summary())
        for c in result.document.confirmations:
            click.echo(
                f"  Bekräftat av {c['party']} ({c['org_number']}): {c['name']}, {c['place']} {local_minute(c['at'])}"
            )
        click.echo(f"  Sigill: {result.signer}{' (tidsstämplat)' if result.timestamped else ''}")
        if result.self_signed:
            click.echo(verification.SELF_SIGNED_NOTICE)
    sys.exit(0 if result.ok else 1)


@click.command("export")
@with_appcontext
@click.option("--from", "start", required=True, help="First day, ÅÅÅÅ-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, ÅÅÅÅ-MM-DD.")
@click.option("--output", required=True, type=click.Path(path_type=Path))
def export_command(start, end, output):
    """Write an E-ARK archive package (ZIP + SHA-256) for each agreement completed in the period."""
    try:
        start, end = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        _fail("Ange datumen som ÅÅÅÅ-MM-DD, till exempel 2021-01-01.")
    if start > end:
        _fail("Slutdatumet kan inte vara före startdatumet.")
    try:  # before anything is exported, so no export is recorded that could not be written
        output.mkdir(parents=True, exist_ok=True)
    except OSError:
        _fail(f"Mappen {output} kunde inte skapas.")
    if not os.access(output, os.W_OK):
        _fail(f"Mappen {output} är skrivskyddad.")
    db, files = current_app.extensions["db"], current_app.extensions["files"]
    with db.session() as session:
        agreement_ids = archive_package.completed_between(session, start, end)
    for agreement_id in agreement_ids:
        package = archive_package.export_agreement(
            db, files, agreement_id, audit.Actor("cli"), current_app.config["SUBMISSION_AGREEMENT"]
        )
        path = archive_package.write_package(package, output)
        click.echo(f"Avtal {agreement_id}: {path} (SHA-256 {package.sha256})")
    click.echo(f"{len(agreement_ids)} arkivpaket skrevs till {output}.")


@click.command("retention")
@with_appcontext
def retention_command():
    """Remove what the retention rules say is due now (unsent drafts, previews, old API answers), audited."""
    removed = retention.run(current_app)
    click.echo(
        f"Gallrat: {removed['drafts']} utkast som aldrig skickades, {removed['previews']} förhandsvisningar, "
        f"{removed['idempotency_answers']} sparade API-svar."
    )


def register(app):
    for command in (
        migrate_command,
        render_command,
        worker_command,
        users_group,
        audit_group,
        webhooks_group,
        verify_command,
        export_command,
        retention_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
