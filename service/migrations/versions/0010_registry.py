"""each agreement's own audit chain; the registry's classification list; drafts removed by retention

Revision ID: 0010_registry
Revises: 0009_accession_rows

An agreement's events also carry the hash of its previous event, so its archive package
can be checked alone. Events recorded before keep their hashes (the field is left out of
them); the unique pair keeps an agreement's chain from forking.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_registry"
down_revision = "0009_accession_rows"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("agreement_prev_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_audit_events_agreement_prev_hash", ["agreement_id", "agreement_prev_hash"])


def downgrade():
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_agreement_prev_hash", type_="unique")
        batch.drop_column("agreement_prev_hash")
    op.drop_table("classifications")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("removed_at")
