"""An index that answers "which items finished in this period" from the index
alone: the reports' scan of a month's transitions, completions and waivers
(`events` by time, type and item) no longer visits a million-row table.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_at_type_item", "events", ["at", "type", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_events_at_type_item", "events")
