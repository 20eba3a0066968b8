"""KPI facts beside each item (csq.domain.facts), so reports aggregate columns
instead of reading tens of thousands of records and timelines.

Adds the facts (answered at/by, reopened, reassigned, first-contact
resolution, closed at, a callback's score) and the fields reports group by
(department, category, about_agent), fills them for every existing item from
its stored record with the domain's own rule, and indexes them: a period's
contacts with their facts are read from one index without touching the rows.

On SQLite it also rewrites `created_at` and `due_at` in UTC from the record:
SQLite keeps no zone, and from now on the model stores these in UTC
(`models.UtcDateTime`) so that report filters compare exactly; a database
whose service clock was not UTC had them in another zone's wall time.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from csq.domain.facts import of_record

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 2000
TS = sa.DateTime(timezone=True)
_COLUMNS: dict[str, Any] = {
    "department": sa.String(100), "category": sa.String(64), "about_agent": sa.String(64),
    "answered_at": TS, "answered_by": sa.String(64), "reopened": sa.Boolean(),
    "reassigned": sa.Boolean(), "first_contact": sa.Boolean(), "closed_at": TS,
    "scored_at": TS, "satisfaction": sa.Integer(),
}
_INDEXES = {
    "ix_items_received_facts": ["created_at", "kind", "status", "owner", "department",
                                "category", "about_agent", "due_at", "answered_at",
                                "first_contact"],
    "ix_items_scored": ["scored_at", "parent_id", "satisfaction"],
    "ix_items_closed_at": ["closed_at"],
}
_TIMES = ("answered_at", "closed_at", "scored_at", "created_at", "due_at")


def upgrade() -> None:
    for name, type_ in _COLUMNS.items():
        op.add_column("items", sa.Column(name, type_, nullable=True))
    _fill(op.get_bind())
    op.drop_index("ix_items_created_at", "items")
    for name, columns in _INDEXES.items():
        op.create_index(name, "items", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, "items")
    op.create_index("ix_items_created_at", "items", ["created_at"])
    with op.batch_alter_table("items") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)


def _fill(conn: sa.Connection) -> None:
    """Every item's facts from its record, a batch of rows per statement."""
    sqlite = conn.dialect.name == "sqlite"
    items = sa.table("items", sa.column("id", sa.Integer),
                     *(sa.column(n, t) for n, t in _COLUMNS.items()),
                     sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("due_at", sa.DateTime(timezone=True)))
    names = [*_COLUMNS, *(("created_at", "due_at") if sqlite else ())]
    update = (items.update().where(items.c.id == sa.bindparam("item_id"))
              .values({n: sa.bindparam(f"v_{n}") for n in names}))
    for batch in _batches(conn):
        rows = []
        for item_id, doc in batch:
            values = _values(doc)
            row = {f"v_{n}": _stored(values[n], sqlite) if n in _TIMES else values[n]
                   for n in names}
            rows.append({"item_id": item_id, **row})
        conn.execute(update, rows)


def _batches(conn: sa.Connection) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    after = 0
    query = sa.text("SELECT id, CAST(doc AS TEXT) FROM items WHERE id > :after "
                    "ORDER BY id LIMIT :n")
    while True:
        batch = [(int(i), orjson.loads(d))
                 for i, d in conn.execute(query, {"after": after, "n": BATCH})]
        if not batch:
            return
        yield batch
        after = batch[-1][0]


def _values(doc: dict[str, Any]) -> dict[str, Any]:
    return of_record(doc).columns() | {
        "department": doc.get("department"), "category": doc["category"],
        "about_agent": doc.get("about_agent"), "created_at": _when(doc["created_at"]),
        "due_at": _when(doc.get("due_at"))}


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _stored(at: datetime | None, sqlite: bool) -> datetime | None:
    """As models.UtcDateTime stores it: UTC, and without a zone on SQLite."""
    if at is None:
        return None
    at = at.astimezone(UTC)
    return at.replace(tzinfo=None) if sqlite else at
