"""party page: renditions of frozen versions, receipt address on confirmations

Revision ID: 0005_party_page
Revises: 0003_listing
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_party_page"
down_revision = "0003_listing"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "renditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("html_sha256", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pdf_sha256"),
    )
    with op.batch_alter_table("confirmations") as batch:
        batch.add_column(sa.Column("receipt_email", sa.String(length=254), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("confirmations") as batch:
        batch.drop_column("receipt_email")
    op.drop_table("renditions")
