"""What a report reads from the database: the period's items, the items they
lead to (callbacks and their parents), and masked customers. Nothing else.

Exact rather than heuristic: besides the items received in the period, it
finds the ones completed, waived or closed in it through the events log (one
indexed range scan on `events.at`), however long ago they were opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from csq.domain.kinds import Kind
from csq.domain.period import Period
from csq.domain.records import Customer, Item
from csq.server import models
from csq.server.repo import masked

_CHUNK = 500  # ids per IN (...) list
_FINISHING = ("transition", "callback_completed", "callback_waived")


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
    start, end = period.start, period.end
    items: dict[int, Item] = {}
    _keep(items, (await session.execute(select(models.Item.doc).where(
        models.Item.created_at >= start, models.Item.created_at < end))).scalars())
    touched = {int(i) for i in (await session.execute(select(models.Event.item_id).where(
        models.Event.at >= start, models.Event.at < end, models.Event.item_id.is_not(None),
        models.Event.type.in_(_FINISHING)).distinct())).scalars() if i is not None}
    await _load_ids(session, items, touched - set(items))
    parents = {i.parent_id for i in items.values() if i.parent_id is not None}
    await _load_ids(session, items, parents - set(items))
    complaints = [i.id for i in items.values() if i.kind == Kind.COMPLAINT]
    for chunk in _chunks(complaints):
        _keep(items, (await session.execute(select(models.Item.doc).where(
            models.Item.parent_id.in_(chunk)))).scalars())
    customer_ids = sorted({i.customer_id for i in items.values()})
    customers: dict[int, Customer] = {}
    for chunk in _chunks(customer_ids):
        for doc in (await session.execute(select(models.Customer.doc).where(
                models.Customer.id.in_(chunk)))).scalars():
            customer = masked(Customer.model_validate(doc))
            customers[customer.id] = customer
    count = int((await session.execute(
        select(func.count()).select_from(models.Customer))).scalar_one())
    names = dict((await session.execute(select(models.User.username, models.User.name))).all())
    return Dataset(sorted(items.values(), key=lambda i: i.id), customers, count,
                   {str(k): str(v) for k, v in names.items()})


async def _load_ids(session: AsyncSession, items: dict[int, Item], ids: Iterable[int]) -> None:
    for chunk in _chunks(sorted(ids)):
        _keep(items, (await session.execute(select(models.Item.doc).where(
            models.Item.id.in_(chunk)))).scalars())


def _keep(items: dict[int, Item], docs: Iterable[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["id"] not in items:
            items[doc["id"]] = Item.model_validate(doc)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for n in range(0, len(ids), _CHUNK):
        yield ids[n:n + _CHUNK]
