"""open accession at the size of a region's civil society

Revision ID: 0013_accession_records
Revises: 0012_template_versions

Organisations that join a completed överenskommelse become party rows of their own (with
their representative), never entries in the agreement's data, so the text and the data stay
as signed; each accession gets a sealed record, and the register of every party is kept with
its CSV and XLSX. A link keeps who issued it and when it was first opened (filled here from
the audit trail), so a record's evidence is read without reading the trail. Links and answers
are indexed by party, so nothing per party reads every party.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_accession_records"
down_revision = "0012_template_versions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("acceded_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("parties") as batch:
        batch.add_column(sa.Column("acceded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("representative_name", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("representative_title", sa.String(300), nullable=False, server_default=""))
        batch.create_index("ix_parties_agreement_org_number", ["agreement_id", "org_number"])
        batch.create_index("ix_parties_agreement_acceded_position", ["agreement_id", "acceded", "position"])
    with op.batch_alter_table("signing_links") as batch:
        batch.add_column(sa.Column("issued_by", sa.String(320), nullable=False, server_default=""))
        batch.add_column(sa.Column("first_opened_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_signing_links_party_id", ["party_id"])
    with op.batch_alter_table("confirmations") as batch:
        batch.create_index("ix_confirmations_party_id", ["party_id"])
    with op.batch_alter_table("accessions") as batch:
        batch.add_column(sa.Column("rows_total", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("rows_skipped", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "accession_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("confirmation_id", sa.Integer(), sa.ForeignKey("confirmations.id"), nullable=False, unique=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("agreement_id", "number"),
    )
    op.create_table(
        "party_registers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("last_record_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("csv_sha256", sa.String(64), nullable=False),
        sa.Column("xlsx_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("agreement_id", "number"),
    )
    _fill_link_evidence()


def _fill_link_evidence():
    """Who issued each existing link and when it was first opened, from the audit trail."""
    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id"),
        sa.column("event"),
        sa.column("actor"),
        sa.column("created_at"),
        sa.column("details", sa.JSON),
    )
    links = sa.table("signing_links", sa.column("id"), sa.column("issued_by"), sa.column("first_opened_at"))
    issued, opened = {}, {}
    rows = bind.execute(
        sa.select(events.c.event, events.c.actor, events.c.created_at, events.c.details)
        .where(events.c.event.in_(("link_issued", "link_opened")))
        .order_by(events.c.id)
    )
    for event, actor, at, details in rows:
        link_id = (details or {}).get("link_id")
        if event == "link_issued":
            issued.setdefault(link_id, actor)
        else:
            opened.setdefault(link_id, at)
    for link_id, actor in issued.items():
        bind.execute(sa.update(links).where(links.c.id == link_id).values(issued_by=actor[:320]))
    for link_id, at in opened.items():
        bind.execute(sa.update(links).where(links.c.id == link_id).values(first_opened_at=at))


def downgrade():
    op.drop_table("party_registers")
    op.drop_table("accession_records")
    with op.batch_alter_table("accessions") as batch:
        batch.drop_column("rows_skipped")
        batch.drop_column("rows_done")
        batch.drop_column("rows_total")
    with op.batch_alter_table("confirmations") as batch:
        batch.drop_index("ix_confirmations_party_id")
    with op.batch_alter_table("signing_links") as batch:
        batch.drop_index("ix_signing_links_party_id")
        batch.drop_column("first_opened_at")
        batch.drop_column("issued_by")
    with op.batch_alter_table("parties") as batch:
        batch.drop_index("ix_parties_agreement_acceded_position")
        batch.drop_index("ix_parties_agreement_org_number")
        batch.drop_column("representative_title")
        batch.drop_column("representative_name")
        batch.drop_column("acceded")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_column("acceded_count")
