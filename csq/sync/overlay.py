"""The local view: server state with the user's pending actions re-applied.

Pure. Runs the same domain engine the server runs, so what the agent sees
while offline is what the server will make of it. Only items touched by a
pending op are validated and rebuilt; the other 49,990 stay plain dicts.
Failed and conflicted ops are not applied: their optimistic effect is rolled
back by simply not drawing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from csq.domain.actions import parse_action
from csq.domain.engine import Actor, Context, apply_action, new_item
from csq.domain.errors import DomainError
from csq.domain.records import Customer, Item
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from csq.store.outbox import Op
from csq.sync.drafts import parse_new_item, provisional_customer


def provisional_id(op: Op) -> int:
    """Items created offline show with a negative id until the server numbers them."""
    return -op.order


def overlay(items: Mapping[int, dict[str, Any]], customers: Mapping[int, dict[str, Any]],
            ops: Sequence[Op], actor: Actor, now: datetime,
            policy: SlaPolicy = DEFAULT_POLICY) -> dict[int, Item]:
    """{item id: the item as the user should see it} for every item a pending op touches."""
    view: dict[int, Item] = {}
    for op in ops:
        if op.state != "pending":
            continue
        try:
            if op.kind == "create_item":
                view[provisional_id(op)] = _created(op, customers, actor, now, policy)
            elif op.kind == "action" and op.item_id is not None:
                item = view.get(op.item_id)
                if item is None:
                    raw = items.get(op.item_id)
                    if raw is None:
                        continue
                    item = Item.model_validate(raw)
                ctx = _ctx(actor, now, policy, customers.get(item.customer_id))
                view[op.item_id] = apply_action(item, parse_action(op.payload), ctx).item
        except (DomainError, ValueError):
            continue  # the server will refuse it too, and say why
    return view


def _created(op: Op, customers: Mapping[int, dict[str, Any]], actor: Actor, now: datetime,
             policy: SlaPolicy) -> Item:
    new = parse_new_item(op.payload)
    if new.customer is None:
        return new_item(new.draft, _ctx(actor, now, policy, customers.get(new.draft.customer_id)),
                        provisional_id(op))
    customer = provisional_customer(new.customer, provisional_id(op), op.created_at)
    item = new_item(new.draft, Context(actor, now, policy, customer), provisional_id(op))
    return item.model_copy(update={"customer_id": customer.id})


def pending_customers(ops: Sequence[Op]) -> dict[int, Customer]:
    """Customers that pending new items will create, by provisional (negative) id:
    the same number as their item's, since one op makes both."""
    out: dict[int, Customer] = {}
    for op in ops:
        if op.state != "pending" or op.kind != "create_item" or "customer" not in op.payload:
            continue
        try:
            new = parse_new_item(op.payload)
        except ValueError:
            continue
        if new.customer is not None:
            out[provisional_id(op)] = provisional_customer(new.customer, provisional_id(op),
                                                           op.created_at)
    return out


def _ctx(actor: Actor, now: datetime, policy: SlaPolicy,
         customer: dict[str, Any] | None) -> Context:
    return Context(actor=actor, now=now, policy=policy,
                   customer=Customer.model_validate(customer) if customer else None)
