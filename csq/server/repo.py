"""Reading and writing records in the database; no rules live here.

Items and customers are stored as their domain record in `doc` (JSON, mode
"json" so datetimes are ISO strings), with query columns copied beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from csq.api import ChangesPage
from csq.domain.masking import mask_email, mask_phone
from csq.domain.records import Customer, Item, TimelineEntry
from csq.server import models
from csq.server.auth import Principal


async def take_seq(session: AsyncSession) -> int:
    """Bump the global seq: the first write of every write transaction, so the
    row lock it takes serialises writers and seq order is commit order."""
    result = await session.execute(
        update(models.SeqCounter).where(models.SeqCounter.id == 1)
        .values(value=models.SeqCounter.value + 1).returning(models.SeqCounter.value))
    return int(result.scalar_one())


async def head_seq(session: AsyncSession) -> int:
    return int((await session.execute(select(models.SeqCounter.value))).scalar_one())


async def next_id(session: AsyncSession, name: str) -> int:
    result = await session.execute(
        update(models.IdCounter).where(models.IdCounter.name == name)
        .values(value=models.IdCounter.value + 1).returning(models.IdCounter.value))
    return int(result.scalar_one())


def _item_doc(item: Item) -> dict[str, Any]:
    return item.model_dump(mode="json")


async def load_item(session: AsyncSession, item_id: int) -> Item | None:
    doc = (await session.execute(
        select(models.Item.doc).where(models.Item.id == item_id))).scalar_one_or_none()
    return Item.model_validate(doc) if doc is not None else None


async def load_items(session: AsyncSession, ids: Iterable[int]) -> list[Item]:
    docs = (await session.execute(
        select(models.Item.doc).where(models.Item.id.in_(list(ids))))).scalars()
    return [Item.model_validate(d) for d in docs]


async def children(session: AsyncSession, item_id: int) -> tuple[Item, ...]:
    docs = (await session.execute(
        select(models.Item.doc).where(models.Item.parent_id == item_id)
        .order_by(models.Item.id))).scalars()
    return tuple(Item.model_validate(d) for d in docs if d.get("kind") == "callback")


async def save_item(session: AsyncSession, item: Item, seq: int, *, new: bool = False) -> Item:
    """Write `item` stamped with `seq`; entries without a seq get this one."""
    stamped = item.model_copy(update={
        "seq": seq,
        "timeline": tuple(e if e.seq else e.model_copy(update={"seq": seq})
                          for e in item.timeline),
    })
    values = dict(seq=seq, kind=stamped.kind.value, status=stamped.status, owner=stamped.owner,
                  customer_id=stamped.customer_id, parent_id=stamped.parent_id,
                  due_at=stamped.due_at, created_at=stamped.created_at,
                  doc=_item_doc(stamped))
    if new:
        session.add(models.Item(id=stamped.id, **values))
    else:
        await session.execute(update(models.Item).where(models.Item.id == stamped.id)
                              .values(**values))
    return stamped


async def load_customer(session: AsyncSession, customer_id: int) -> Customer | None:
    doc = (await session.execute(
        select(models.Customer.doc).where(models.Customer.id == customer_id))
    ).scalar_one_or_none()
    return Customer.model_validate(doc) if doc is not None else None


async def save_customer(session: AsyncSession, customer: Customer, seq: int, *,
                        new: bool = False) -> Customer:
    stamped = customer.model_copy(update={"seq": seq})
    doc = stamped.model_dump(mode="json")
    if new:
        session.add(models.Customer(id=stamped.id, seq=seq, doc=doc))
    else:
        await session.execute(update(models.Customer).where(models.Customer.id == stamped.id)
                              .values(seq=seq, doc=doc))
    return stamped


def masked(customer: Customer) -> Customer:
    """The only form of a customer that lists, feeds and streams carry."""
    return customer.model_copy(update={"phone": mask_phone(customer.phone),
                                       "email": mask_email(customer.email)})


async def append_events(session: AsyncSession, seq: int, who: Principal, *,
                        item_id: int | None, entries: Sequence[TimelineEntry] = (),
                        customer_id: int | None = None, client: str = "",
                        key: str | None = None, diff: dict[str, Any] | None = None,
                        extra_type: str | None = None) -> None:
    rows: list[models.Event] = []
    for index, entry in enumerate(entries):
        data = dict(entry.data)
        if diff and index == 0:
            data["diff"] = diff
        rows.append(models.Event(
            seq=seq, item_id=item_id, customer_id=customer_id, type=entry.type,
            actor=who.username, actor_name=who.name, role=who.role.value, client=client[:200],
            idempotency_key=key, at=entry.at, body=entry.body, data=data))
    if extra_type is not None:
        from datetime import UTC, datetime

        rows.append(models.Event(
            seq=seq, item_id=item_id, customer_id=customer_id, type=extra_type,
            actor=who.username, actor_name=who.name, role=who.role.value, client=client[:200],
            idempotency_key=key, at=datetime.now(UTC), body=None, data=diff or {}))
    session.add_all(rows)


def diff_of(before: Item | None, after: Item) -> dict[str, Any]:
    """Changed state fields as {field: [old, new]}, JSON-ready, for the audit trail."""
    old = before.state_fields() if before else {}
    new = after.state_fields()
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


async def changes(session: AsyncSession, after: int, limit: int) -> ChangesPage:
    """Records changed after `after`, whole commits only, oldest first.

    The page ends at a seq boundary: when the page is full, `next` is the last
    seq it holds completely, and every record of that seq is in it.
    """
    head = await head_seq(session)
    seqs = union_all(
        select(models.Item.seq.label("s")).where(models.Item.seq > after, models.Item.seq <= head),
        select(models.Customer.seq.label("s")).where(models.Customer.seq > after,
                                                     models.Customer.seq <= head),
    ).subquery()
    found = [int(s) for s in (await session.execute(
        select(seqs.c.s).order_by(seqs.c.s).limit(limit + 1))).scalars()]
    if len(found) > limit:
        upto, end = found[limit - 1], False
        if upto == after:  # cannot happen (seq > after), kept for clarity
            upto = found[limit]
    else:
        upto, end = head, True
    items = [Item.model_validate(d) for d in (await session.execute(
        select(models.Item.doc).where(models.Item.seq > after, models.Item.seq <= upto)
        .order_by(models.Item.seq, models.Item.id))).scalars()]
    customers = [masked(Customer.model_validate(d)) for d in (await session.execute(
        select(models.Customer.doc).where(models.Customer.seq > after,
                                          models.Customer.seq <= upto)
        .order_by(models.Customer.seq, models.Customer.id))).scalars()]
    return ChangesPage(items=items, customers=customers, next=max(upto, after),
                       end_of_stream=end)


async def count_items(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(models.Item)))
               .scalar_one())


async def notify(session: AsyncSession, seq: int) -> None:
    """On PostgreSQL, tell every replica (delivered at commit, so never early)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify('csq_changes', :seq)"), {"seq": str(seq)})
