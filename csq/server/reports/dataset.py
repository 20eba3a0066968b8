"""What a report reads from the database: the period's items, the items they
lead to (callbacks and their parents), and masked customers. Nothing else.

Exact rather than heuristic: besides the items received in the period, it
finds the ones completed, waived or closed in it through the events log (one
indexed range scan on `events.at`), however long ago they were opened.

Fast at a month of a busy centre (tens of thousands of items): the database
hands over each record without its timeline and body (`json_remove` on
SQLite, `jsonb -` on PostgreSQL), and, in a second query, only the timeline
entries a KPI reads (moves, assignments, a lead's follow-up note). The items
are built with `model_construct` from those trusted, service-written
records: a report's `Item` is a view whose timeline holds just those entries
and whose body is empty. Validating every stored record with pydantic, or
parsing whole documents in Python, cost ten times more.

SQL range filters are a day wider than the period on each side: SQLite keeps
timestamps without their zone, so a bound is only approximate there; the
exact cut is made in Python on aware datetimes (csq.domain.kpi, `Period`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import String, func, literal_column, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from csq.domain.kinds import Channel, Kind
from csq.domain.period import Period
from csq.domain.priority import Priority
from csq.domain.records import CallbackResult, Customer, Escalation, Item, TimelineEntry
from csq.server import models
from csq.server.repo import masked

_M = TypeVar("_M", bound=BaseModel)
_FIELDS: dict[type[BaseModel], frozenset[str]] = {}

_CHUNK = 2000  # ids per IN (...) list
_FINISHING = ("transition", "callback_completed", "callback_waived")
_SLACK = timedelta(days=1)
# The timeline entries csq.domain.kpi, callback_summary and quality read.
_ENTRIES = ("transition", "callback_waived", "assign", "note")

_SLIM = {
    "sqlite": "json_remove(doc, '$.timeline', '$.body')",
    "postgresql": "((doc::jsonb - 'timeline') - 'body')::text",
}
@dataclass(frozen=True)
class Dataset:
    items: list[Item]
    customers: dict[int, Customer]  # masked: no report can leak a phone number
    customer_count: int
    names: dict[str, str]  # username -> display name

    @property
    def members(self) -> set[int]:
        return {c.id for c in self.customers.values() if c.member}


async def load(session: AsyncSession, period: Period) -> Dataset:
    start, end = period.start - _SLACK, period.end + _SLACK
    reader = _Reader(session)
    await reader.where(models.Item.created_at >= start, models.Item.created_at < end)
    touched = {int(i) for i in (await session.execute(select(models.Event.item_id).where(
        models.Event.at >= start, models.Event.at < end, models.Event.item_id.is_not(None),
        models.Event.type.in_(_FINISHING)).distinct())).scalars() if i is not None}
    await reader.ids(touched)
    await reader.ids({d["parent_id"] for d in reader.docs.values() if d["parent_id"] is not None})
    for chunk in _chunks(reader.kinds(Kind.COMPLAINT)):
        await reader.where(models.Item.parent_id.in_(chunk))
    items = await reader.items()
    customers = await _customers(session, {i.customer_id for i in items})
    count = int((await session.execute(
        select(func.count()).select_from(models.Customer))).scalar_one())
    names = dict((await session.execute(select(models.User.username, models.User.name))).all())
    return Dataset(items, customers, count,
                   {str(k): str(v) for k, v in names.items()})


class _Reader:
    """Collects the report's records (without timelines), then their KPI entries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.slim: ColumnClause[str] = literal_column(_SLIM[self.dialect])
        self.docs: dict[int, dict[str, Any]] = {}
        self.zones: dict[int, tzinfo | None] = {}

    async def where(self, *criteria: Any) -> None:
        rows = await self.session.execute(
            select(models.Item.id, self.slim).select_from(models.Item).where(*criteria))
        for item_id, doc in rows:
            if item_id not in self.docs:
                self.docs[item_id] = orjson.loads(doc)

    async def ids(self, ids: Iterable[int]) -> None:
        for chunk in _chunks(sorted(set(ids) - set(self.docs))):
            await self.where(models.Item.id.in_(chunk))

    def kinds(self, kind: Kind) -> list[int]:
        return sorted(i for i, d in self.docs.items() if d["kind"] == kind.value)

    async def items(self) -> list[Item]:
        """The records with the timeline entries the KPIs read, oldest id first.

        The entries come from the events log, which holds one row per timeline
        entry (same type, actor, moment and data, in the same order) and is
        indexed by item: far cheaper than unpacking every stored timeline."""
        e = models.Event
        follow_up = e.data["follow_up"].as_string()
        query = select(e.item_id, e.type, e.actor, type_coerce(e.at, String),
                       e.data["to"].as_string(), follow_up).where(
            e.type.in_(_ENTRIES), or_(e.type != "note", follow_up.is_not(None)))
        entries: dict[int, list[TimelineEntry]] = {}
        for chunk in _chunks(sorted(self.docs)):
            rows = await self.session.execute(
                query.where(e.item_id.in_(chunk)).order_by(e.item_id, e.id))
            for item_id, type_, actor, at, to, done in rows:
                data: dict[str, Any] = {}
                if to is not None:
                    data["to"] = to
                if done is not None:  # SQLite gives 1 for true, PostgreSQL 'true'
                    data["follow_up"] = done not in (0, "0", "false", "")
                entries.setdefault(item_id, []).append(_trusted(TimelineEntry, {
                    "type": type_, "actor": actor, "actor_name": "",
                    "at": self._moment(item_id, at), "body": None, "data": data, "seq": 0}))
        return [_item(self.docs[i], entries.get(i, ())) for i in sorted(self.docs)]

    def _moment(self, item_id: int, at: str | datetime) -> datetime:
        """An event's time, aware. SQLite stores it without its zone: it is in the
        zone the service's clock gave the item's own timestamps (UTC in service)."""
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if at.tzinfo is not None:
            return at
        zone = self.zones.get(item_id)
        if zone is None:
            zone = self.zones[item_id] = datetime.fromisoformat(
                self.docs[item_id]["created_at"]).tzinfo
        return at.replace(tzinfo=zone)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _item(doc: dict[str, Any], timeline: Iterable[TimelineEntry]) -> Item:
    """An Item from a stored record the service wrote (and validated) itself."""
    for key in ("due_at", "sla_start", "promised_at", "created_at", "updated_at"):
        doc[key] = _when(doc.get(key))
    doc["kind"] = Kind(doc["kind"])
    doc["channel"] = Channel(doc["channel"])
    doc["priority"] = Priority(doc["priority"])
    doc["tags"] = tuple(doc.get("tags") or ())
    if doc.get("result"):
        doc["result"] = _trusted(CallbackResult, {**doc["result"],
                                                  "at": _when(doc["result"]["at"])})
    if doc.get("escalation"):
        doc["escalation"] = _trusted(Escalation, {**doc["escalation"],
                                                  "at": _when(doc["escalation"]["at"])})
    doc["body"] = ""
    doc["timeline"] = tuple(timeline)
    return _trusted(Item, doc)


def _trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """`cls.model_construct(**values)` for a dict that holds every field: the same
    object without pydantic's per-field default handling, which was most of the
    cost of building a month of records."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(cls.model_fields)
    if values.keys() != names:
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


async def _customers(session: AsyncSession, ids: set[int]) -> dict[int, Customer]:
    customers: dict[int, Customer] = {}
    for chunk in _chunks(sorted(ids)):
        for doc in (await session.execute(select(models.Customer.doc).where(
                models.Customer.id.in_(chunk)))).scalars():
            doc = {**doc, "created_at": _when(doc["created_at"]),
                   "updated_at": _when(doc["updated_at"])}
            customer = masked(_trusted(Customer, doc))
            customers[customer.id] = customer
    return customers


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for n in range(0, len(ids), _CHUNK):
        yield ids[n:n + _CHUNK]
