"""Reading and writing records in the database; no rules live here.

Items and customers are stored as their domain record in `doc` (JSON, mode
"json" so datetimes are ISO strings), with query columns copied beside it.

Every function runs inside a unit of work of transactions.py, on a sync
`Session`. The hot path (an action: load, save, append events) uses Core
statements rather than the ORM's unit of work, and reads a document as its
JSON text (`CAST(doc AS TEXT)`) so that pydantic parses it once, in Rust,
instead of the driver's json.loads followed by validating the dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from csq.api import ChangesPage
from csq.domain.masking import mask_email, mask_phone
from csq.domain.records import Customer, Item, TimelineEntry
from csq.server import models
from csq.server.auth import Principal

# Built once: a statement built per call costs more CPU than SQLite takes to run
# it (construction, coercion, cache-key generation). Executed on the session's
# Connection, past the ORM's execute machinery, since they return plain rows.
ITEMS = typed(Table, models.Item.__table__)
CUSTOMERS = typed(Table, models.Customer.__table__)
EVENTS = typed(Table, models.Event.__table__)
SEQ = typed(Table, models.SeqCounter.__table__)
IDS = typed(Table, models.IdCounter.__table__)
ANSWERS = typed(Table, models.Idempotency.__table__)
ITEM_JSON = cast(ITEMS.c.doc, Text)  # the stored document as text, not parsed
CUSTOMER_JSON = cast(CUSTOMERS.c.doc, Text)

_TAKE_SEQ = (update(SEQ).where(SEQ.c.id == 1).values(value=SEQ.c.value + 1)
             .returning(SEQ.c.value))
_HEAD_SEQ = select(SEQ.c.value)
_NEXT_ID = (update(IDS).where(IDS.c.name == bindparam("counter"))
            .values(value=IDS.c.value + 1).returning(IDS.c.value))
_ITEM = select(ITEM_JSON).where(ITEMS.c.id == bindparam("id"))
_CALLBACKS = (select(ITEM_JSON).where(ITEMS.c.parent_id == bindparam("id"),
                                      ITEMS.c.kind == "callback").order_by(ITEMS.c.id))
_UPDATE_ITEM = update(ITEMS).where(ITEMS.c.id == bindparam("item_id"))
_INSERT_ITEM = insert(ITEMS)
_CUSTOMER = select(CUSTOMER_JSON).where(CUSTOMERS.c.id == bindparam("id"))
_INSERT_EVENTS = insert(EVENTS)
_ANSWER = select(ANSWERS.c.request_hash, ANSWERS.c.status, ANSWERS.c.body).where(
    ANSWERS.c.user_id == bindparam("user_id"), ANSWERS.c.key == bindparam("key"))
_REMEMBER = insert(ANSWERS)


def take_seq(session: Session) -> int:
    """Bump the global seq: the first write of every write transaction, so the
    row lock it takes serialises writers and seq order is commit order."""
    return int(session.connection().execute(_TAKE_SEQ).scalar_one())


def head_seq(session: Session) -> int:
    return int(session.connection().execute(_HEAD_SEQ).scalar_one())


def next_id(session: Session, name: str) -> int:
    return int(session.connection().execute(_NEXT_ID, {"counter": name}).scalar_one())


def load_item(session: Session, item_id: int) -> Item | None:
    raw = session.connection().execute(_ITEM, {"id": item_id}).scalar_one_or_none()
    return Item.model_validate_json(raw) if raw is not None else None


def load_items(session: Session, ids: Iterable[int]) -> list[Item]:
    raws = session.connection().execute(select(ITEM_JSON).where(ITEMS.c.id.in_(list(ids))))
    return [Item.model_validate_json(r) for r in raws.scalars()]


def children(session: Session, item_id: int) -> tuple[Item, ...]:
    raws = session.connection().execute(_CALLBACKS, {"id": item_id}).scalars()
    return tuple(Item.model_validate_json(r) for r in raws)


def save_item(session: Session, item: Item, seq: int, *, new: bool = False) -> Item:
    """Write `item` stamped with `seq`; entries without a seq get this one."""
    stamped = item.model_copy(update={
        "seq": seq,
        "timeline": tuple(e if e.seq else e.model_copy(update={"seq": seq})
                          for e in item.timeline),
    })
    values = dict(seq=seq, kind=stamped.kind.value, status=stamped.status, owner=stamped.owner,
                  customer_id=stamped.customer_id, parent_id=stamped.parent_id,
                  due_at=stamped.due_at, created_at=stamped.created_at,
                  doc=stamped.model_dump(mode="json"))
    if new:
        session.connection().execute(_INSERT_ITEM, dict(values, id=stamped.id))
    else:
        session.connection().execute(_UPDATE_ITEM, dict(values, item_id=stamped.id))
    return stamped


def load_customer(session: Session, customer_id: int) -> Customer | None:
    raw = session.connection().execute(_CUSTOMER, {"id": customer_id}).scalar_one_or_none()
    return Customer.model_validate_json(raw) if raw is not None else None


def find_answer(session: Session, user_id: int,
                key: str) -> tuple[str, int, dict[str, Any]] | None:
    """The stored answer to (user, Idempotency-Key): (request hash, status, body)."""
    row = session.connection().execute(_ANSWER, {"user_id": user_id, "key": key}).first()
    return None if row is None else (row.request_hash, row.status, dict(row.body))


def remember_answer(session: Session, *, user_id: int, key: str, request_hash: str,
                    status: int, body: dict[str, Any], at: datetime) -> None:
    """Store a write's answer for replay (a second one for the same key: IntegrityError)."""
    session.connection().execute(_REMEMBER, dict(
        user_id=user_id, key=key, request_hash=request_hash, status=status, body=body,
        created_at=at))


def save_customer(session: Session, customer: Customer, seq: int, *,
                  new: bool = False) -> Customer:
    stamped = customer.model_copy(update={"seq": seq})
    doc = stamped.model_dump(mode="json")
    if new:
        session.add(models.Customer(id=stamped.id, seq=seq, doc=doc))
    else:
        session.execute(update(models.Customer).where(models.Customer.id == stamped.id)
                              .values(seq=seq, doc=doc))
    return stamped


def masked(customer: Customer) -> Customer:
    """The only form of a customer that lists, feeds and streams carry."""
    return customer.model_copy(update={"phone": mask_phone(customer.phone),
                                       "email": mask_email(customer.email)})


def append_events(session: Session, seq: int, who: Principal, *,
                  item_id: int | None, entries: Sequence[TimelineEntry] = (),
                  customer_id: int | None = None, client: str = "",
                  key: str | None = None, diff: dict[str, Any] | None = None,
                  extra_type: str | None = None) -> None:
    """Insert the audit rows now, in one statement (in order, so ids follow them)."""
    common = dict(seq=seq, item_id=item_id, customer_id=customer_id, actor=who.username,
                  actor_name=who.name, role=who.role.value, client=client[:200],
                  idempotency_key=key)
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        data = dict(entry.data)
        if diff and index == 0:
            data["diff"] = diff
        rows.append(dict(common, type=entry.type, at=entry.at, body=entry.body, data=data))
    if extra_type is not None:
        rows.append(dict(common, type=extra_type, at=datetime.now(UTC), body=None,
                         data=diff or {}))
    if rows:
        session.connection().execute(_INSERT_EVENTS, rows)


def diff_of(before: Item | None, after: Item) -> dict[str, Any]:
    """Changed state fields as {field: [old, new]}, JSON-ready, for the audit trail."""
    old = before.state_fields() if before else {}
    new = after.state_fields()
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def changes(session: Session, after: int, limit: int) -> ChangesPage:
    """Records changed after `after`, whole commits only, oldest first.

    The page ends at a seq boundary: when the page is full, `next` is the last
    seq it holds completely, and every record of that seq is in it.
    """
    head = head_seq(session)
    seqs = union_all(
        select(models.Item.seq.label("s")).where(models.Item.seq > after, models.Item.seq <= head),
        select(models.Customer.seq.label("s")).where(models.Customer.seq > after,
                                                     models.Customer.seq <= head),
    ).subquery()
    found = [int(s) for s in (session.execute(
        select(seqs.c.s).order_by(seqs.c.s).limit(limit + 1))).scalars()]
    if len(found) > limit:
        upto, end = found[limit - 1], False
        if upto == after:  # cannot happen (seq > after), kept for clarity
            upto = found[limit]
    else:
        upto, end = head, True
    items = [Item.model_validate(d) for d in (session.execute(
        select(models.Item.doc).where(models.Item.seq > after, models.Item.seq <= upto)
        .order_by(models.Item.seq, models.Item.id))).scalars()]
    customers = [masked(Customer.model_validate(d)) for d in (session.execute(
        select(models.Customer.doc).where(models.Customer.seq > after,
                                          models.Customer.seq <= upto)
        .order_by(models.Customer.seq, models.Customer.id))).scalars()]
    return ChangesPage(items=items, customers=customers, next=max(upto, after),
                       end_of_stream=end)


def count_items(session: Session) -> int:
    return int((session.execute(select(func.count()).select_from(models.Item)))
               .scalar_one())


def notify(session: Session, seq: int) -> None:
    """On PostgreSQL, tell every replica (delivered at commit, so never early)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify('csq_changes', :seq)"), {"seq": str(seq)})
