"""template versions: a note per version, and which version new drafts use

Revision ID: 0012_template_versions
Revises: 0011_officials_day

The region edits its templates in Word and uploads each edit as a new version with a note;
one version per kind is active for new drafts, chosen (or retired) in an append-only table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_template_versions"
down_revision = "0011_officials_day"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("custom_templates") as batch:
        batch.add_column(sa.Column("note", sa.String(300), nullable=False, server_default=""))
    op.create_table(
        "template_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("chosen_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["custom_templates.id"]),
        sa.ForeignKeyConstraint(["chosen_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_template_choices_kind"), "template_choices", ["kind"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_template_choices_kind"), table_name="template_choices")
    op.drop_table("template_choices")
    with op.batch_alter_table("custom_templates") as batch:
        batch.drop_column("note")
