"""an index on the audit trail's event names

Revision ID: 0007_audit_event_index
Revises: 0006_limits

The metrics endpoint counts link events at every scrape, and webhooks look for the newest
event of their kinds: without an index each read scans the whole trail.
"""

from alembic import op

revision = "0007_audit_event_index"
down_revision = "0006_limits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_events_event", "audit_events", ["event"])


def downgrade():
    op.drop_index("ix_audit_events_event", table_name="audit_events")
