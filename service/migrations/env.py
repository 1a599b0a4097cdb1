"""Alembic environment: the URL comes from the caller (service.migrate)."""

from alembic import context

from service.models import Base

config = context.config
connectable = config.attributes["connection"]

context.configure(
    connection=connectable,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
