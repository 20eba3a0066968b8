"""Queue rows: the few fields the queue shows, built from cached dicts.

Validating 50,000 pydantic Items takes seconds; building these takes tens of
milliseconds. The detail screen validates the one full Item it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csq.domain.text import neutralise

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass(slots=True)
class CustomerInfo:
    id: int
    name: str
    tier: str
    badges: tuple[str, ...]
    phone: str = ""  # masked, as every list shows it (138****5678)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CustomerInfo:
        flags = ("vip", "member", "key_account", "special_care", "watch")
        return cls(int(doc["id"]), neutralise(doc.get("name", "")), str(doc.get("tier", "C")),
                   tuple(f for f in flags if doc.get(f)), neutralise(doc.get("phone") or ""))


@dataclass(slots=True)
class QueueRow:
    id: int
    kind: str
    category: str
    subject: str  # neutralised: safe to hand to the terminal
    status: str
    priority: str
    owner: str | None
    customer_id: int
    channel: str
    due_at: datetime | None
    sla_start: datetime
    created_at: datetime
    updated_at: datetime
    tags: tuple[str, ...] = ()
    escalated: bool = False
    parent_id: int | None = None
    department: str | None = None
    promised_at: datetime | None = None
    pending: bool = False
    body_text: str = field(default="", repr=False)
    haystack: str = field(default="", repr=False)  # built on first free-text search

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, pending: bool = False) -> QueueRow:
        created = _dt(doc.get("created_at")) or _EPOCH
        return cls(
            id=int(doc["id"]), kind=str(doc["kind"]), category=str(doc.get("category", "")),
            subject=neutralise(doc.get("subject", "")), status=str(doc["status"]),
            priority=str(doc.get("priority", "P3")), owner=doc.get("owner"),
            customer_id=int(doc.get("customer_id", 0)), channel=str(doc.get("channel", "")),
            due_at=_dt(doc.get("due_at")), sla_start=_dt(doc.get("sla_start")) or created,
            created_at=created, updated_at=_dt(doc.get("updated_at")) or created,
            tags=tuple(doc.get("tags") or ()), escalated=doc.get("escalation") is not None,
            parent_id=doc.get("parent_id"), department=doc.get("department"),
            promised_at=_dt(doc.get("promised_at")), pending=pending,
            body_text=str(doc.get("body", ""))[:2000],
        )
