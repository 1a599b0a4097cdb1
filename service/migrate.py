"""Create or upgrade the database schema with Alembic."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(database):
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def make_revision(database, message):
    """For developers: write a new migration from the models (alembic autogenerate)."""
    with database.engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
