"""Shift handover (值班交接, DOMAIN.md §9): what an agent hands to the next shift.

At shift end an agent's open, overdue and promised-today items form the
handover list, with a note; the next shift's agent or a lead acknowledges it.
The list is computed here from the items (the server passes the agent's open
ones), so what the server stores and what the TUI previews are the same.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import AwareDatetime

from csq.domain.errors import DomainError, Forbidden
from csq.domain.lifecycle import is_open
from csq.domain.records import Item, Record
from csq.domain.roles import Role, is_lead, may
from csq.domain.sla import SlaPolicy, is_breached


class HandoverItem(Record):
    """One line of the list, as it stood when it was handed over."""

    id: int
    kind: str
    status: str
    priority: str
    subject: str
    due_at: AwareDatetime | None = None
    promised_at: AwareDatetime | None = None
    overdue: bool = False
    promised_today: bool = False


class Handover(Record):
    id: int
    seq: int = 0
    author: str
    author_name: str
    to: str | None = None  # the next shift's agent, when the author knows who
    shift: str  # the shift that ends, e.g. "08:00-20:00" ("" outside every shift)
    next_shift: str
    note: str
    created_at: AwareDatetime
    items: tuple[HandoverItem, ...] = ()
    open_count: int = 0
    overdue_count: int = 0
    promised_today_count: int = 0
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    acknowledge_note: str = ""


class AlreadyAcknowledged(DomainError):
    type = "already-acknowledged"
    status = 409


def handover_items(items: Iterable[Item], username: str, now: datetime,
                   policy: SlaPolicy) -> tuple[HandoverItem, ...]:
    """The agent's open items, breached first, then by due time; each marked
    overdue and promised-today (a promise falling on today's date, in the
    centre's zone, past or still ahead)."""
    today = now.astimezone(policy.quiet.zone).date()
    lines = []
    for item in items:
        if item.owner != username or not is_open(item.kind, item.status):
            continue
        promised_today = (item.promised_at is not None
                          and item.promised_at.astimezone(policy.quiet.zone).date() == today)
        lines.append(HandoverItem(
            id=item.id, kind=item.kind.value, status=item.status, priority=item.priority,
            subject=item.subject, due_at=item.due_at, promised_at=item.promised_at,
            overdue=is_breached(item, now), promised_today=promised_today))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return tuple(sorted(lines, key=lambda h: (not h.overdue, not h.promised_today,
                                              h.due_at or far, h.id)))


def check_acknowledge(handover: Handover, username: str, role: Role | str) -> None:
    """The next shift takes it: the agent it was handed to (anyone but the author
    when it names nobody), or any lead. Twice is a conflict, not a no-op: the
    second person should know someone else already has the list."""
    if not may(role, "acknowledge_handover"):
        raise Forbidden(f"a {role} may not acknowledge a handover")
    if handover.acknowledged_by is not None:
        raise AlreadyAcknowledged(
            f"handover {handover.id} was acknowledged by {handover.acknowledged_by}",
            acknowledged_by=handover.acknowledged_by)
    if username == handover.author:
        raise Forbidden("the next shift acknowledges a handover, not its author")
    if is_lead(role):
        return
    if handover.to is not None and handover.to != username:
        raise Forbidden(f"handover {handover.id} is for {handover.to}; they or a lead "
                        "acknowledge it")
