"""What a report reads from the database: the period's KPI facts, the records
a report lists, masked customers. Nothing else.

The KPIs are read from columns, not records: every item row carries its facts
(csq.domain.facts, written with the record: see csq.server.models), so a
month of a busy centre is one range scan of an index that holds the contacts'
facts (`ix_items_received_facts`), plus the month's callback scores and
member complaints closed. csq.domain.kpi's `Collector` applies every rule to
those rows; the SQL only narrows to what the rules may want, using the
domain's constants.

Records are read only for the tables that list them (`Needs`): a month's
quality complaints, a period's complaints, a period's callbacks. Those come
without body (`json_remove` on SQLite, `jsonb -` on PostgreSQL) and with only
the timeline entries a rule reads, taken from the events log, and are built
with `model_construct` from the service's own, already validated, records.

Times in the item columns are UTC on every database (`models.UtcDateTime`), so
the period's bounds are exact in SQL; events' times are not (SQLite keeps the
wall time of the service's clock), see `_Reader._moment`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import String, and_, func, literal_column, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from csq.domain import kpi
from csq.domain.kinds import Channel, Kind
from csq.domain.period import Period
from csq.domain.priority import Priority
from csq.domain.records import CallbackResult, Customer, Escalation, Item, TimelineEntry
from csq.server import models
from csq.server.repo import ITEM_JSON, masked

_M = TypeVar("_M", bound=BaseModel)
_FIELDS: dict[type[BaseModel], frozenset[str]] = {}

_CHUNK = 2000  # ids per IN (...) list
# The timeline entries csq.domain.kpi, callback_summary and quality read.
_ENTRIES = ("transition", "callback_waived", "assign", "note")

_I = models.Item
_SUBJECT = (_I.id, _I.kind, _I.status, _I.owner, _I.department, _I.category, _I.about_agent)


class Needs(StrEnum):
    """The records a report lists, besides its KPI facts."""

    QUALITY = "quality"  # complaints about agents received in the period, whole
    COMPLAINTS = "complaints"  # complaints received in the period
    CALLBACKS = "callbacks"  # callbacks created, finished or scored in the period


@dataclass(frozen=True)
class Dataset:
    facts: kpi.Facts
    items: list[Item]  # only the records the report's `Needs` asked for
    customers: dict[int, Customer]  # of those items, masked: no report leaks a number
    customer_count: int
    names: dict[str, str]  # username -> display name


async def load(session: AsyncSession, period: Period, now: datetime,
               needs: Iterable[Needs] = ()) -> Dataset:
    facts = await read_facts(session, period, now)
    reader = _Reader(session)
    start, end = period.start, period.end
    received = and_(_I.created_at >= start, _I.created_at < end)
    items: list[Item] = []
    for need in needs:
        if need == Needs.QUALITY:
            items += await _whole(session, _I.kind == Kind.COMPLAINT.value,
                                  _I.about_agent.is_not(None), received)
        elif need == Needs.COMPLAINTS:
            await reader.where(_I.kind == Kind.COMPLAINT.value, received)
        else:
            await reader.where(_I.kind == Kind.CALLBACK.value, or_(
                received, and_(_I.answered_at >= start, _I.answered_at < end),
                and_(_I.scored_at >= start, _I.scored_at < end)))
    items += await reader.items()
    customers = await _customers(session, {i.customer_id for i in items})
    count = int((await session.execute(
        select(func.count()).select_from(models.Customer))).scalar_one())
    names = dict((await session.execute(select(models.User.username, models.User.name))).all())
    return Dataset(facts, items, customers, count,
                   {str(k): str(v) for k, v in names.items()})


async def read_facts(session: AsyncSession, period: Period, now: datetime) -> kpi.Facts:
    """The period's KPI facts from the item columns: contacts received in it,
    callback scores given in it (credited to the item called back about), and
    complaints closed in it (for member coverage). Core statements on the
    session's connection: plain rows, no ORM result machinery."""
    conn = await session.connection()
    start, end = period.start, period.end
    subjects: dict[int, kpi.Subject] = {}
    received: list[Any] = list(await conn.execute(select(
        *_SUBJECT, _I.created_at, _I.due_at, _I.answered_at, _I.first_contact).where(
        _I.created_at >= start, _I.created_at < end,
        _I.kind.in_([k.value for k in kpi.CONTACT_KINDS]))))
    for row in received:
        subjects[row[0]] = kpi.Subject(*row[:7])
    scores: list[Any] = list(await conn.execute(select(
        _I.id, _I.parent_id, _I.scored_at, _I.satisfaction).where(
        _I.scored_at >= start, _I.scored_at < end)))
    closed: list[Any] = list(await conn.execute(select(
        *_SUBJECT, _I.customer_id, _I.closed_at).where(
        _I.closed_at >= start, _I.closed_at < end, _I.kind == Kind.COMPLAINT.value)))
    await _subjects(conn, subjects, {p for _, p, _, _ in scores if p is not None})
    await _subjects(conn, subjects, {i for i, p, _, _ in scores if p not in subjects})
    statuses: dict[int, list[str]] = {}
    for chunk in _chunks(sorted({row[0] for row in closed})):
        callbacks: list[Any] = list(await conn.execute(select(_I.parent_id, _I.status).where(
            _I.parent_id.in_(chunk), _I.kind == Kind.CALLBACK.value)))
        for parent, status in callbacks:
            statuses.setdefault(parent, []).append(status)
    members: set[int] = set()
    for chunk in _chunks(sorted({row[-2] for row in closed})):
        members.update((await conn.execute(select(models.Customer.id).where(
            models.Customer.id.in_(chunk),
            models.Customer.doc["member"].as_boolean()))).scalars())

    collect = kpi.Collector(period, now, members)
    for row in received:
        collect.received(subjects[row[0]], row[7], row[8], row[9], bool(row[10]))
    for item_id, parent, at, satisfaction in scores:  # no parent on record: its own
        collect.scored(subjects.get(parent) or subjects[item_id], at, satisfaction)
    for row in closed:
        collect.closed(kpi.Subject(*row[:7]), row[7], row[8], statuses.get(row[0], ()))
    return collect.facts()


async def _subjects(conn: AsyncConnection, known: dict[int, kpi.Subject],
                    ids: Iterable[int]) -> None:
    """Add the subjects of `ids` not known yet (an item received before the period)."""
    for chunk in _chunks(sorted(set(ids) - known.keys())):
        rows: list[Any] = list(await conn.execute(select(*_SUBJECT).where(_I.id.in_(chunk))))
        for row in rows:
            known[row[0]] = kpi.Subject(*row)


async def _whole(session: AsyncSession, *criteria: Any) -> list[Item]:
    """Whole records, validated: for the few a report reads in full."""
    raws = await session.execute(select(ITEM_JSON).where(*criteria).order_by(_I.id))
    return [Item.model_validate_json(r) for r in raws.scalars()]


class _Reader:
    """Collects the records a report lists (without timelines), then the timeline
    entries its rules read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.slim: ColumnClause[str] = literal_column(
            models.ITEM_WITHOUT_TIMELINE[self.dialect])
        self.docs: dict[int, dict[str, Any]] = {}
        self.zones: dict[int, tzinfo | None] = {}

    async def where(self, *criteria: Any) -> None:
        rows = await self.session.execute(
            select(models.Item.id, self.slim).select_from(models.Item).where(*criteria))
        for item_id, doc in rows:
            if item_id not in self.docs:
                self.docs[item_id] = orjson.loads(doc)

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
