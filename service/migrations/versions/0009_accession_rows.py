"""an accession keeps the rows read from its list

Revision ID: 0009_accession_rows
Revises: 0008_version_change_note

An Excel list is read once, at upload, within bounds; its page shows the rows kept then
instead of parsing the stored file again at every view.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_accession_rows"
down_revision = "0008_version_change_note"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accessions") as batch:
        batch.add_column(sa.Column("rows_sha256", sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table("accessions") as batch:
        batch.drop_column("rows_sha256")
