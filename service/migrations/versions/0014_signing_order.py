"""signing order: in what order a version's parties get their links

Revision ID: 0014_signing_order
Revises: 0013_accession_records

The official may send so that the parties get their links one after another (the region last,
or in the parties' order) instead of all at once; the choice is one of the version's terms.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_signing_order"
down_revision = "0013_accession_records"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("signing_order", sa.String(20), nullable=False, server_default="together"))


def downgrade():
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("signing_order")
