"""Tables. Items and customers keep their whole record as JSON in `doc`, with
the columns that queries filter or sort on copied beside it; `events` is the
append-only audit trail and the source of the changes feed's sequence.

An item's row also carries its KPI facts (csq.domain.facts: answered when and
by whom, reopened, reassigned, first-contact resolution, closed, a callback's
score) and the fields reports group by. They are filled by the columns' own
defaults from the `doc` being written, in the very INSERT or UPDATE that
writes it: whoever writes an item (the service, the demo seed, a bulk load)
writes its facts too, in the same statement, so they cannot drift from the
record and cost no statement of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from csq.domain.facts import of_record


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC on every database and read back aware.

    SQLite has no zone: a plain DateTime there keeps the wall time of whatever
    zone the value came in, so comparisons in SQL are only right when every
    writer used the same zone. Normalising to UTC on the way in makes range
    filters exact on SQLite as they are on PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _row_facts(context: DefaultExecutionContext) -> dict[str, Any]:
    """The report columns of the item row being written, from its `doc`: computed
    once per row for all of them (the defaults below ask in turn), remembered
    only for the statement being executed."""
    doc = context.get_current_parameters()["doc"]  # items are always written whole
    cache: dict[int, dict[str, Any]] = context.__dict__.setdefault("_csq_item_facts", {})
    columns = cache.get(id(doc))  # the row's doc is alive until the statement ends
    if columns is None:
        columns = cache[id(doc)] = of_record(doc).columns() | {
            "department": doc.get("department"), "category": doc["category"],
            "about_agent": doc.get("about_agent")}
    return columns


def _from_doc(name: str) -> dict[str, Any]:
    def fill(context: DefaultExecutionContext) -> Any:
        return _row_facts(context)[name]
    return {"default": fill, "onupdate": fill}


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, datetime: DateTime(timezone=True),
    }


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime]


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    doc: Mapped[dict[str, Any]]


# An item's document without its timeline and body, as JSON text, per dialect:
# what a reader that needs only the record's fields asks the database for, so
# neither the database driver nor Python parses the whole history.
ITEM_WITHOUT_TIMELINE = {
    "sqlite": "json_remove(doc, '$.timeline', '$.body')",
    "postgresql": "((doc::jsonb - 'timeline') - 'body')::text",
}


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    doc: Mapped[dict[str, Any]]
    # Report columns (migration 0004), filled from `doc` by their defaults.
    department: Mapped[str | None] = mapped_column(String(100), nullable=True,
                                                   **_from_doc("department"))
    category: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                 **_from_doc("category"))
    about_agent: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                    **_from_doc("about_agent"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True,
                                                         **_from_doc("answered_at"))
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                    **_from_doc("answered_by"))
    reopened: Mapped[bool | None] = mapped_column(Boolean, nullable=True,
                                                  **_from_doc("reopened"))
    reassigned: Mapped[bool | None] = mapped_column(Boolean, nullable=True,
                                                    **_from_doc("reassigned"))
    first_contact: Mapped[bool | None] = mapped_column(Boolean, nullable=True,
                                                       **_from_doc("first_contact"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True,
                                                       **_from_doc("closed_at"))
    scored_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True,
                                                       **_from_doc("scored_at"))
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True,
                                                     **_from_doc("satisfaction"))

    __table_args__ = (
        Index("ix_items_kind_status", "kind", "status"),
        # Items by creation time, with a period's KPI facts in the index itself, so
        # reading them never reads the row and its JSON document (migration 0004;
        # it replaces 0002's ix_items_created_at, its first column).
        Index("ix_items_received_facts", "created_at", "kind", "status", "owner",
              "department", "category", "about_agent", "due_at", "answered_at",
              "first_contact"),
        Index("ix_items_scored", "scored_at", "parent_id", "satisfaction"),
        Index("ix_items_closed_at", "closed_at"),
    )


class Event(Base):
    """One row per change, never updated or deleted (a trigger refuses both)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    client: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime]
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_events_at", "at"),  # reports read a period's events
                      Index("ix_events_at_type_item", "at", "type", "item_id"))


class SeqCounter(Base):
    """One row: the last seq handed out. Updating it first in every write
    transaction serialises writers, so seq order is commit order, gap-free."""

    __tablename__ = "seq_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Idempotency(Base):
    __tablename__ = "idempotency"
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class IdCounter(Base):
    """Item ids are short numbers agents read out on the phone; allocated here
    under the same write lock rather than by a dialect-specific sequence."""

    __tablename__ = "id_counter"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Handover(Base):
    """值班交接: one agent's list for the next shift. The record is `doc` (a
    domain.handover.Handover); `acknowledged_at` is copied beside it so the wall
    counts the open ones with an index."""

    __tablename__ = "handovers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    author: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    doc: Mapped[dict[str, Any]]
