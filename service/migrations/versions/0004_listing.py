"""listing columns, bulk accession, link delivery

Columns derived from each agreement's data so that lists search, filter, sort and page
in SQL; the accessions table for lists of organisations joining an överenskommelse;
whether a link's email went out.

Revision ID: 0003_listing
Revises: 0003_integrations
"""

import sqlalchemy as sa
from alembic import op

from service.listing import index_columns

revision = "0003_listing"
down_revision = "0003_integrations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "accessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreements.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_accessions_agreement_id", "accessions", ["agreement_id"])
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("registration_key", sa.String(length=60), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("party_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("period_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("period_end", sa.Date(), nullable=True))
        batch_op.create_index("ix_agreements_updated_at", ["updated_at"])
    with op.batch_alter_table("parties") as batch_op:
        batch_op.add_column(sa.Column("accession_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key("fk_parties_accession_id", "accessions", ["accession_id"], ["id"])
        batch_op.create_index("ix_parties_accession_id", ["accession_id"])
    with op.batch_alter_table("signing_links") as batch_op:
        batch_op.add_column(sa.Column("delivery", sa.String(length=20), nullable=False, server_default=""))
    with op.batch_alter_table("confirmations") as batch_op:
        batch_op.create_index("ix_confirmations_version_id", ["version_id"])
    _fill_index_columns()


def _fill_index_columns():
    """Derive the new columns for agreements saved before them."""
    connection = op.get_bind()
    agreements = sa.table(
        "agreements",
        sa.column("id", sa.Integer),
        sa.column("data", sa.JSON),
        sa.column("search_text", sa.Text),
        sa.column("registration_key", sa.String),
        sa.column("party_count", sa.Integer),
        sa.column("period_start", sa.Date),
        sa.column("period_end", sa.Date),
    )
    for agreement_id, data in connection.execute(sa.select(agreements.c.id, agreements.c.data)).all():
        connection.execute(agreements.update().where(agreements.c.id == agreement_id).values(**index_columns(data)))


def downgrade():
    with op.batch_alter_table("confirmations") as batch_op:
        batch_op.drop_index("ix_confirmations_version_id")
    with op.batch_alter_table("signing_links") as batch_op:
        batch_op.drop_column("delivery")
    with op.batch_alter_table("parties") as batch_op:
        batch_op.drop_index("ix_parties_accession_id")
        batch_op.drop_constraint("fk_parties_accession_id", type_="foreignkey")
        batch_op.drop_column("invited_at")
        batch_op.drop_column("accession_id")
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.drop_index("ix_agreements_updated_at")
        for column in ("period_end", "period_start", "party_count", "registration_key", "search_text"):
            batch_op.drop_column(column)
    op.drop_index("ix_accessions_agreement_id", "accessions")
    op.drop_table("accessions")
