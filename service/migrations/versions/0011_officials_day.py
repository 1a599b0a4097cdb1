"""the official's day: what each handläggare hears, the registry's address, sending terms

Revision ID: 0011_officials_day
Revises: 0010_registry

Each handläggare chooses per agreement what to hear by email (every answer, a daily summary,
completion only); an agreement may name its registry's address for the final PDF; a version
keeps what the official set when sending it (a message, a last day to answer, a reminder cadence);
a link a party passed on to the person who may sign keeps that person's address and name.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_officials_day"
down_revision = "0010_registry"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signing_links") as batch:
        batch.add_column(sa.Column("sent_to", sa.String(254), nullable=True))
        batch.add_column(sa.Column("recipient_name", sa.String(300), nullable=False, server_default=""))
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("message", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("answer_by", sa.Date(), nullable=True))
        batch.add_column(sa.Column("remind_every_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("registry_email", sa.String(254), nullable=False, server_default=""))
    with op.batch_alter_table("agreement_handlers") as batch:
        batch.add_column(sa.Column("notify", sa.String(20), nullable=False, server_default="every"))
        batch.add_column(sa.Column("summary_sent_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("signing_links") as batch:
        batch.drop_column("recipient_name")
        batch.drop_column("sent_to")
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("remind_every_days")
        batch.drop_column("answer_by")
        batch.drop_column("message")
    with op.batch_alter_table("agreement_handlers") as batch:
        batch.drop_column("summary_sent_at")
        batch.drop_column("notify")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("registry_email")
