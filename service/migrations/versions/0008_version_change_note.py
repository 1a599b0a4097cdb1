"""what changed in a version, in the official's words

Revision ID: 0008_version_change_note
Revises: 0007_audit_event_index

A new version voids the parties' answers to the one before; the invitation to confirm it
says what changed, in one sentence the official writes when sending.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_version_change_note"
down_revision = "0007_audit_event_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("change_note", sa.String(300), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("change_note")
