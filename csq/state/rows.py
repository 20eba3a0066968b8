"""Queue rows: the few fields the queue shows, built from cached dicts (an item's
full document, or the cache's list projection of it: csq.domain.records.list_view).

Validating 50,000 pydantic Items takes seconds; building these takes tens of
milliseconds. The detail screen validates the one full Item it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csq.domain.records import LIST_BODY_CHARS
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
        # Runs 50,000 times before the first paint: one bound `get`, no helper calls
        # for absent dates.
        get = doc.get
        created = _dt(get("created_at")) or _EPOCH
        due, sla, promised, updated = (get("due_at"), get("sla_start"), get("promised_at"),
                                       get("updated_at"))
        escalated = get("escalated")
        return cls(
            int(doc["id"]), str(doc["kind"]), str(get("category", "")),
            neutralise(get("subject", "")), str(doc["status"]), str(get("priority", "P3")),
            get("owner"), int(get("customer_id", 0)), str(get("channel", "")),
            _dt(due) if due else None, _dt(sla) or created, created,
            _dt(updated) or created, tuple(get("tags") or ()),
            get("escalation") is not None if escalated is None else escalated,
            get("parent_id"), get("department"), _dt(promised) if promised else None,
            pending, str(get("body", ""))[:LIST_BODY_CHARS],
        )
