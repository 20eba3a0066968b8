"""Tables. Items and customers keep their whole record as JSON in `doc`, with
the columns that queries filter or sort on copied beside it; `events` is the
append-only audit trail and the source of the changes feed's sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    doc: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_items_kind_status", "kind", "status"),
                      Index("ix_items_created_at", "created_at"))


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
