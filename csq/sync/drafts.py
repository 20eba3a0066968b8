"""New items as the outbox holds them: an item draft, and perhaps the customer
to create first (a caller who is not on file yet).

A `create_item` op's payload is the `POST /v1/items` body, except that it may
carry `"customer": {CustomerDraft}` in place of `customer_id`. The sender then
creates the customer first, with the op's own key plus `/customer` as its
Idempotency-Key, so a resend after a crash finds the same customer instead of
making a second one, and puts the server's id in the item it posts. One op,
so the customer and their item are queued, sent, refused or discarded together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csq.domain.masking import mask_email, mask_phone
from csq.domain.records import Customer, CustomerDraft, ItemDraft

NEW_CUSTOMER = "customer"
_NOT_YET = 2**31 - 1  # stands in for the id the server has not given yet


@dataclass(frozen=True)
class NewItem:
    draft: ItemDraft
    customer: CustomerDraft | None = None  # to create before the item


def parse_new_item(payload: dict[str, Any]) -> NewItem:
    """Validate a create_item payload. Raises pydantic's ValidationError."""
    body = dict(payload)
    raw = body.pop(NEW_CUSTOMER, None)
    if raw is None:
        return NewItem(ItemDraft.model_validate(body))
    customer = CustomerDraft.model_validate(raw)
    body["customer_id"] = _NOT_YET
    return NewItem(ItemDraft.model_validate(body), customer)


def customer_key(op_id: str) -> str:
    return f"{op_id}/customer"


def item_body(payload: dict[str, Any], customer_id: int) -> dict[str, Any]:
    body = {k: v for k, v in payload.items() if k != NEW_CUSTOMER}
    body["customer_id"] = customer_id
    return body


def provisional_customer(draft: CustomerDraft, customer_id: int, at: datetime) -> Customer:
    """The customer as the agent's lists show it until the server has them:
    masked like every other (promise 5), with a negative id."""
    fields = draft.model_dump()
    fields.update(phone=mask_phone(draft.phone), email=mask_email(draft.email))
    return Customer(id=customer_id, created_at=at, updated_at=at, **fields)
