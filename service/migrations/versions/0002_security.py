"""security: revocable sessions, bounded link opens, handläggare per agreement

Revision ID: 0002_security
Revises: f27b552a72c9
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_security"
down_revision = "f27b552a72c9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("signing_links") as batch:
        batch.add_column(sa.Column("open_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_opened_at", sa.DateTime(), nullable=True))
    op.create_table(
        "agreement_handlers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreements.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "user_id"),
    )
    # Every existing agreement's creator becomes its first handläggare.
    op.execute(
        "INSERT INTO agreement_handlers (agreement_id, user_id, created_at) "
        "SELECT id, created_by_id, created_at FROM agreements WHERE created_by_id IS NOT NULL"
    )


def downgrade():
    op.drop_table("agreement_handlers")
    with op.batch_alter_table("signing_links") as batch:
        batch.drop_column("last_opened_at")
        batch.drop_column("open_count")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
