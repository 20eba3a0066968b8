"""Priorities, customer tiers and the one queue order (DOMAIN.md §5).

The order is total: two different items never compare equal, so a sorted
queue is the same on every screen and every replica.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from csq.domain.records import Clocked as Item
    from csq.domain.records import Customer


class Priority(StrEnum):
    P1 = "P1"  # major / emergency (重大, 抢险)
    P2 = "P2"  # complaint or VIP / key account
    P3 = "P3"  # standard
    P4 = "P4"  # informational

    @property
    def rank(self) -> int:
        return int(self.value[1])


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def rank(self) -> int:
        return "ABCD".index(self.value)


def default_priority(kind: str, customer: Customer | None) -> Priority:
    """Complaints and VIP / key-account customers start at P2, the rest at P3."""
    if kind == "complaint":
        return Priority.P2
    if customer is not None and (customer.vip or customer.key_account):
        return Priority.P2
    return Priority.P3


_FAR_FUTURE = 10**12


def queue_key(item: Item, tier: Tier | None,
              now: datetime) -> tuple[int, int, int, float, float, int]:
    """Breached first, then priority, then tier, then time left; ties by age and id."""
    from csq.domain.sla import is_breached, seconds_left

    left = seconds_left(item, now)
    return (
        0 if is_breached(item, now) else 1,
        Priority(item.priority).rank,
        (tier or Tier.D).rank,
        left if left is not None else _FAR_FUTURE,
        item.created_at.timestamp(),
        item.id,
    )
