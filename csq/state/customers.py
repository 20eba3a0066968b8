"""Finding a customer as the agent types, and what they already have open.

Pure: reads the queue's in-memory customers and rows, no I/O. Free text
matches the id, the name (中文 too) and the masked phone as lists show it
(`138****5678`); a whole number typed in is matched against that mask, so an
agent can read the caller's number off the phone and still find them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from csq.domain.masking import mask_phone
from csq.domain.text import normalise
from csq.state.filter import DONE_PAIRS
from csq.state.rows import CustomerInfo, QueueRow


def _fold(text: str) -> str:
    return normalise(text).casefold()


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _matches(customer: CustomerInfo, words: list[str]) -> bool:
    hay = _fold(f"#{customer.id} {customer.name} {customer.phone}")
    for word in words:
        if word in hay:
            continue
        digits = _digits(word)
        # A full number typed in: compare it as the server would mask it.
        if len(digits) >= 7 and customer.phone and mask_phone(digits) == customer.phone:
            continue
        return False
    return True


def _rank(customer: CustomerInfo, query: str) -> tuple[int, int]:
    """Exact id first, then names that start with what was typed, then the rest."""
    if query.lstrip("#") == str(customer.id):
        return (0, customer.id)
    if _fold(customer.name).startswith(query):
        return (1, customer.id)
    return (2, customer.id)


def find_customers(customers: Mapping[int, CustomerInfo], text: str,
                   limit: int = 50) -> list[CustomerInfo]:
    """The customers matching every word of `text`, best first. Customers still
    waiting in the outbox (negative ids) are not offered: the server has no
    number for them yet."""
    words = _fold(text).split()
    query = " ".join(words)
    found = [c for c in customers.values() if c.id > 0 and _matches(c, words)]
    found.sort(key=lambda c: _rank(c, query))
    return found[:limit]


def open_items(rows: Iterable[QueueRow], customer_id: int) -> list[QueueRow]:
    """A customer's items that are not done, newest first."""
    mine = [r for r in rows if r.customer_id == customer_id
            and (r.kind, r.status) not in DONE_PAIRS]
    return sorted(mine, key=lambda r: r.created_at, reverse=True)


def open_counts(rows: Iterable[QueueRow], customer_ids: set[int]) -> dict[int, int]:
    """How many open items each of these customers has (one pass over the queue)."""
    counts = dict.fromkeys(customer_ids, 0)
    for r in rows:
        if r.customer_id in counts and (r.kind, r.status) not in DONE_PAIRS:
            counts[r.customer_id] += 1
    return counts
