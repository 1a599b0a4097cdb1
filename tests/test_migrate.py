"""The migrations, as `flask migrate` runs them, against the models the code uses."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.models import Base


def ours(name, type_, parent_names) -> bool:
    """Leave out the job queue's tables: Huey makes its own in the same PostgreSQL database."""
    return type_ != "table" or name in Base.metadata.tables


def test_the_migrations_build_exactly_what_the_models_describe(app):
    """A column, index or constraint added to a model needs a migration, and the reverse."""
    with app.extensions["db"].engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
