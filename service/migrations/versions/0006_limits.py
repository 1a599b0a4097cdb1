"""rate limits shared by all hosts

Revision ID: 0006_limits
Revises: 0005_party_page
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_limits"
down_revision = "0005_party_page"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_limit_hits_key_sha256", "limit_hits", ["key_sha256"])


def downgrade():
    op.drop_index("ix_limit_hits_key_sha256", table_name="limit_hits")
    op.drop_table("limit_hits")
