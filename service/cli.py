"""Command-line entry points: `flask --app service <command>`."""

import json
import sys

import click
from flask import current_app

from . import migrate as migrations
from .documents import ConversionError, TemplateFillError, render_agreement_pdf
from .schema import SchemaError, validate_agreement
from .storage import StorageError


def _fail(message):
    click.echo(f"Fel: {message}", err=True)
    sys.exit(1)


@click.command("migrate")
def migrate_command():
    """Create or upgrade the database to the newest schema."""
    migrations.upgrade(current_app.extensions["db"])
    click.echo("Databasen är uppdaterad.")


@click.command("render")
@click.argument("input_file", type=click.File("rb"))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, writable=True))
def render_command(input_file, output):
    """Render INPUT_FILE (agreement JSON) to a PDF at OUTPUT."""
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
        pdf, digest = render_agreement_pdf(agreement, app.extensions["office"], app.extensions["files"])
    except (ConversionError, TemplateFillError, StorageError) as exc:
        _fail(exc.message)
    with open(output, "wb") as f:
        f.write(pdf)
    click.echo(f"Skrev {output} ({len(pdf)} byte, SHA-256 {digest}).")


def register(app):
    for command in (migrate_command, render_command):
        app.cli.add_command(command)
