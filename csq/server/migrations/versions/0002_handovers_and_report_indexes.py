"""Shift handovers (值班交接), and indexes for reading a period: items by
creation time and events by time.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger, nullable=False, index=True),
        sa.Column("author", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, index=True),
        sa.Column("doc", sa.JSON, nullable=False),
    )
    op.create_index("ix_items_created_at", "items", ["created_at"])
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_events_at", "events")
    op.drop_index("ix_items_created_at", "items")
    op.drop_table("handovers")
